"""One declaration per clinical vocabulary, with the values the schema already stores."""

from __future__ import annotations

import enum

import pytest

from spinecare.clinical import vocab
from spinecare.store import enums

STORED_VALUES: dict[type[enum.StrEnum], set[str]] = {
    vocab.Sex: {"F", "M"},
    vocab.Menopause: {"pre", "peri", "post"},
    vocab.BmdSite: {"lumbar_spine", "femoral_neck", "total_hip", "radius_33"},
    vocab.FractureKind: {"osteoporotic", "traumatic", "pathologic"},
}


@pytest.mark.parametrize("cls", list(STORED_VALUES), ids=lambda c: c.__name__)
def test_store_reuses_the_clinical_class(cls: type[enum.StrEnum]) -> None:
    assert getattr(enums, cls.__name__) is cls


@pytest.mark.parametrize("cls", list(STORED_VALUES), ids=lambda c: c.__name__)
def test_values_match_the_schema(cls: type[enum.StrEnum]) -> None:
    """A changed value would need a migration: the CHECK constraints list these strings."""
    assert {m.value for m in cls} == STORED_VALUES[cls]


def test_sex_reads_the_stored_letter() -> None:
    assert vocab.Sex("F") is vocab.Sex.FEMALE and vocab.Sex("M") is vocab.Sex.MALE
