from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from spinecare.clinical.outcomes import (
    DisabilityBand,
    SessionOutcome,
    course_chart_data,
    odi_band,
    odi_score,
    pain_improved,
)


def test_odi_complete() -> None:
    r = odi_score([2, 1, 3, 2, 2, 1, 1, 0, 2, 2])
    assert (r.total, r.answered, r.percent) == (16, 10, 32.0)
    assert r.band is DisabilityBand.MODERATE


def test_odi_one_blank_section_divides_by_45() -> None:
    r = odi_score([2, 1, 3, 2, 2, 1, 1, None, 2, 2])
    assert r.percent == pytest.approx(round(100 * 16 / 45, 1))
    assert r.blank_sections == ["sex_life"]


def test_odi_two_blank_allowed_three_not() -> None:
    assert odi_score([5, 5, 5, 5, 5, 5, 5, 5, None, None]).percent == 100.0
    r = odi_score([5, 5, 5, 5, 5, 5, 5, None, None, None])
    assert r.percent is None and r.band is None


@pytest.mark.parametrize(
    ("pct", "band"),
    [(0, "minimal"), (20, "minimal"), (20.1, "moderate"), (40, "moderate"), (41, "severe"),
     (60, "severe"), (61, "crippled"), (80, "crippled"), (81, "bed_bound"), (100, "bed_bound")],
)  # fmt: skip
def test_odi_bands(pct: float, band: str) -> None:
    assert odi_band(pct).value == band


@pytest.mark.parametrize("bad", [[0] * 9, [6, 0, 0, 0, 0, 0, 0, 0, 0, 0], [-1] + [0] * 9])
def test_odi_rejects_bad_answers(bad: list[int]) -> None:
    with pytest.raises(ValueError):
        odi_score(bad)


def test_session_outcome_validation() -> None:
    with pytest.raises(ValidationError):
        SessionOutcome(session_number=1, date=dt.date(2027, 1, 1), nrs_before=11)
    with pytest.raises(ValidationError):
        SessionOutcome(
            session_number=1, date=dt.date(2027, 1, 1), nrs_before=5, odi_sections=[7] * 10
        )


@pytest.mark.parametrize(
    ("base", "cur", "ok"), [(8, 6, True), (8, 7, False), (3, 2, True), (2, 2, False), (5, 7, False)]
)
def test_pain_improved(base: int, cur: int, ok: bool) -> None:
    assert pain_improved(base, cur) is ok


def test_chart_data_and_png() -> None:
    d0 = dt.date(2027, 1, 4)
    outs = [
        SessionOutcome(
            session_number=i + 1,
            date=d0 + dt.timedelta(days=2 * i),
            nrs_before=7 - i // 2,
            nrs_after=6 - i // 2,
            odi_sections=[3] * 10 if i in (0, 7) else None,
        )
        for i in range(8)
    ]
    chart = course_chart_data(list(reversed(outs)))
    assert chart.session_numbers == list(range(1, 9))
    assert chart.odi_session_numbers == [1, 8] and chart.odi_percent == [60.0, 60.0]
    # The chart itself is drawn by reports/charts.py (the core draws nothing).
