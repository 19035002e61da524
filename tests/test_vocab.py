"""The leaf vocabulary: segment names are read from any text without failing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from spinecare.vocab import SEGMENTS, Region, segment_normalise, segment_region


@given(st.text(max_size=12))
def test_any_text_normalises_without_failing(text: str) -> None:
    """Found by the API fuzzer: '/00' raised IndexError, a 500 instead of a field error."""
    assert isinstance(segment_normalise(text), str)
    assert segment_region(text) in (None, *Region)


def test_spellings_of_one_segment_agree() -> None:
    for spelling in ("L4/5", "l4-5", "L4-L5", " l4 / l5 "):
        assert segment_normalise(spelling) == "L4/5"
    assert segment_normalise("L5-S1") == "L5/S1"


def test_malformed_names_are_unknown_not_errors() -> None:
    for text in ("/00", "/", "-", "", "L/", "/L5"):
        assert segment_region(text) is None


def test_every_listed_segment_is_canonical() -> None:
    for region, names in SEGMENTS.items():
        for name in names:
            assert segment_normalise(name) == name
            assert segment_region(name) is region
