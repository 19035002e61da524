from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from spinecare.clinical.course import (
    ScheduleSettings,
    is_clinic_day,
    plan_course,
    projected_forces,
    review_course,
)
from spinecare.clinical.outcomes import SessionOutcome
from spinecare.errors import InputError

HOLIDAYS = {dt.date(2026, 12, 24), dt.date(2026, 12, 25), dt.date(2026, 12, 26),
            dt.date(2027, 1, 1)}  # fmt: skip


def plan(**kw: object) -> list[dt.datetime]:
    args: dict[str, object] = {
        "region": "lumbar", "body_weight_kg": 80.0, "segment": "L4/5", "sessions": 20,
        "per_week": 5, **kw,
    }  # fmt: skip
    start = args.pop("start", dt.date(2026, 12, 14))
    c = plan_course(start, **args)  # type: ignore[arg-type]
    return [s.start for s in c.sessions]


@pytest.mark.parametrize("per_week", [2, 3, 4, 5])
def test_schedule_avoids_weekends_and_holidays(per_week: int) -> None:
    starts = plan(per_week=per_week, sessions=15)
    assert len(starts) == 15
    days = [s.date() for s in starts]
    assert all(d.weekday() < 5 for d in days)
    assert not HOLIDAYS & set(days)
    assert len(set(days)) == len(days)
    weeks = Counter(d.isocalendar()[:2] for d in days)
    assert max(weeks.values()) <= per_week
    full = sorted(weeks)[1:-1]
    assert all(weeks[w] >= 2 for w in full)


def test_schedule_stays_in_opening_hours_and_avoids_busy_slots() -> None:
    busy = [
        (dt.datetime(2026, 12, 14, 8, 0), dt.datetime(2026, 12, 14, 12, 0)),
        (dt.datetime(2026, 12, 15, 8, 0), dt.datetime(2026, 12, 15, 18, 0)),  # whole day
    ]
    c = plan_course(
        dt.date(2026, 12, 14), region="lumbar", body_weight_kg=80, segment="L4/5",
        sessions=15, per_week=5, busy=busy,
    )  # fmt: skip
    for s in c.sessions:
        assert s.end - s.start == dt.timedelta(minutes=45)
        assert s.traction_minutes == 30
        assert dt.time(8) <= s.start.time() and s.end.time() <= dt.time(18)
        assert not any(s.start < e and b < s.end for b, e in busy)
    assert c.sessions[0].start == dt.datetime(2026, 12, 14, 12, 0)
    assert c.sessions[1].start.date() == dt.date(2026, 12, 16)


def test_state_holidays_are_configurable() -> None:
    epiphany = dt.date(2027, 1, 6)
    assert is_clinic_day(epiphany, ScheduleSettings())
    assert not is_clinic_day(epiphany, ScheduleSettings(holiday_subdiv="BW"))
    with pytest.raises(ValueError):
        ScheduleSettings(holiday_subdiv="XX")


def test_forces_progress_and_review_point_marked() -> None:
    c = plan_course(dt.date(2027, 2, 1), region="cervical", body_weight_kg=70, segment="C5/6",
                    sessions=15, per_week=3)  # fmt: skip
    forces = [s.projected_peak_force_n for s in c.sessions]
    assert forces == projected_forces("cervical", 70, "C5/6", [True] * 14)
    assert forces == sorted(forces) and forces[-1] > forces[0]
    assert [s.number for s in c.sessions if s.review_point] == [8]


@pytest.mark.parametrize(
    ("kw", "field"),
    [({"sessions": 14}, "sessions"), ({"per_week": 6}, "per_week"),
     ({"review_after": 9}, "review_after")],
)  # fmt: skip
def test_course_limits(kw: dict[str, int], field: str) -> None:
    with pytest.raises(InputError) as err:
        plan(**kw)
    assert err.value.field == field


def outcomes(nrs: list[int]) -> list[SessionOutcome]:
    d0 = dt.date(2027, 1, 4)
    return [
        SessionOutcome(session_number=i + 1, date=d0 + dt.timedelta(days=2 * i), nrs_before=v)
        for i, v in enumerate(nrs)
    ]


@pytest.mark.parametrize(
    ("nrs", "status", "flag"),
    [
        ([7, 7, 6, 6, 6, 6, 6, 6], "not_improved", True),  # -1 point, 14%
        ([7, 7, 6, 6, 6, 5, 5, 5], "improved", False),  # -2 points
        ([3, 3, 3, 3, 3, 3, 3, 2], "improved", False),  # -33%
        ([7, 7, 7, 7, 7], "too_early", False),
        ([5, 6, 7], "too_early", True),  # worse by 2: flagged at any time
        ([0, 0, 0, 0, 0, 0, 0, 0], "no_baseline_pain", False),
    ],
)
def test_review_flags_non_responders(nrs: list[int], status: str, flag: bool) -> None:
    r = review_course(outcomes(nrs))
    assert r.status == status
    assert r.flag_for_physician is flag


def test_review_point_is_configurable_within_6_to_8() -> None:
    r = review_course(outcomes([6] * 6), review_after=6)
    assert r.review_due and r.status == "not_improved"
    with pytest.raises(InputError):
        review_course(outcomes([6] * 6), review_after=5)
