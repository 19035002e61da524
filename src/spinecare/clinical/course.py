"""A treatment course: scheduling sessions, projecting force progression, the 6-8 session review.

``plan_course`` is pure: clinic hours, holidays and already-booked slots are passed in; it books
the earliest free 45-minute slots on working days, 2-5 per week, and never double-books.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from spinecare.clinical.dosing import course_force_plan
from spinecare.clinical.outcomes import SessionOutcome, pain_improved
from spinecare.errors import InputError
from spinecare.quantities import BODY_WEIGHT
from spinecare.vocab import SEGMENTS, Region, segment_normalise

# "approx. 45 minutes per session", 30 minutes traction [seed-spinemed].
SLOT_MINUTES = 45
# Traction time 30 min in a 45 min slot [seed-spinemed].
DEFAULT_TRACTION_MIN = 30.0
# Courses of 15-20 sessions [seed-spinemed].
COURSE_MIN_SESSIONS = 15
COURSE_MAX_SESSIONS = 20
# "A significant improvement of the symptoms usually occurs after 6-8 treatments"
# [seed-spinemed].
REVIEW_WINDOW = (6, 8)
# 2-5 sessions a week: clinic choice, the seed names no frequency [seed-spinemed]; 15-20 sessions
# then take 3-10 weeks.
MIN_PER_WEEK = 2
MAX_PER_WEEK = 5

OpeningHours = dict[int, tuple[dt.time, dt.time]]


def _default_hours() -> OpeningHours:
    return {d: (dt.time(8, 0), dt.time(18, 0)) for d in range(5)}  # Mon-Fri 08:00-18:00


class ScheduleSettings(BaseModel):
    """Clinic calendar. Weekdays are 0=Monday .. 6=Sunday; times are clinic-local, naive."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    opening_hours: OpeningHours = Field(default_factory=_default_hours)
    slot_minutes: int = Field(default=SLOT_MINUTES, ge=30, le=120)
    traction_minutes: float = Field(default=DEFAULT_TRACTION_MIN, gt=0, le=45)
    # Slots start on this grid (minutes after opening).
    grid_minutes: int = Field(default=15, ge=5, le=60)
    # German state for regional holidays ("BW", "BY", ...); None = nationwide holidays only.
    holiday_subdiv: str | None = None
    # Most German practices close on 24 and 31 December although they are not public holidays.
    close_dec_24_and_31: bool = True
    closed_dates: frozenset[dt.date] = frozenset()
    # Closing days every year as (month, day): local holidays the ``holidays`` package leaves
    # out, such as 15 August (Assumption Day) in the Bavarian municipalities that keep it
    # [by-feiertagsgesetz], or a clinic's own days.
    closed_annually: frozenset[tuple[int, int]] = frozenset()

    @model_validator(mode="after")
    def _hours(self) -> Self:
        for day, (start, end) in self.opening_hours.items():
            if not 0 <= day <= 6:
                raise ValueError(f"opening_hours: weekday {day} is not 0-6")
            if end <= start:
                raise ValueError(f"opening_hours: closing before opening on weekday {day}")
        if self.holiday_subdiv is not None:
            import holidays  # lazy: therapy imports this module for its constants

            try:
                holidays.country_holidays("DE", subdiv=self.holiday_subdiv, years=2026)
            except NotImplementedError:
                raise ValueError(
                    f"holiday_subdiv: unknown German state {self.holiday_subdiv!r}"
                ) from None
        return self


class PlannedSession(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int
    start: dt.datetime
    end: dt.datetime
    traction_minutes: float
    projected_peak_force_n: float
    review_point: bool


class CourseSchedule(BaseModel):
    model_config = ConfigDict(frozen=True)

    sessions: list[PlannedSession]
    review_after_session: int
    warnings: list[str]


def is_clinic_day(day: dt.date, settings: ScheduleSettings) -> bool:
    """Open weekday, not a German public holiday (national or the configured state's),
    not a configured closing day."""
    if day.weekday() not in settings.opening_hours:
        return False
    if day in settings.closed_dates or (day.month, day.day) in settings.closed_annually:
        return False
    if settings.close_dec_24_and_31 and day.month == 12 and day.day in (24, 31):
        return False
    return day not in _german_holidays(settings.holiday_subdiv, day.year)


@functools.lru_cache(maxsize=64)
def _german_holidays(subdiv: str | None, year: int) -> frozenset[dt.date]:
    """Public holidays (``holidays`` package): nationwide, plus the state's if ``subdiv``."""
    import holidays  # lazy: keeps session start-up free of the holiday tables

    return frozenset(holidays.country_holidays("DE", subdiv=subdiv, years=year).keys())


def _overlaps(
    start: dt.datetime, end: dt.datetime, busy: Sequence[tuple[dt.datetime, dt.datetime]]
) -> bool:
    return any(start < b_end and b_start < end for b_start, b_end in busy)


def _free_slot(
    day: dt.date,
    settings: ScheduleSettings,
    busy: Sequence[tuple[dt.datetime, dt.datetime]],
    preferred: dt.time | None,
) -> dt.datetime | None:
    open_t, close_t = settings.opening_hours[day.weekday()]
    slot = dt.timedelta(minutes=settings.slot_minutes)
    t = dt.datetime.combine(day, open_t)
    close = dt.datetime.combine(day, close_t)
    candidates: list[dt.datetime] = []
    while t + slot <= close:
        candidates.append(t)
        t += dt.timedelta(minutes=settings.grid_minutes)
    if preferred is not None:
        pref = dt.datetime.combine(day, preferred)
        candidates.sort(key=lambda c: (c < pref, abs((c - pref).total_seconds())))
    for c in candidates:
        if not _overlaps(c, c + slot, busy):
            return c
    return None


def _spread(free: list[dt.datetime], k: int) -> list[dt.datetime]:
    """Pick ``k`` of a week's free days, spread evenly (3 of Mon-Fri -> Mon, Wed, Fri)."""
    if k <= 0 or not free:
        return []
    if k >= len(free):
        return list(free)
    if k == 1:
        return [free[0]]
    step = (len(free) - 1) / (k - 1)
    return [free[round(i * step)] for i in range(k)]


def plan_course(
    start: dt.date,
    *,
    region: Region | str,
    body_weight_kg: float,
    segment: str,
    sessions: int = COURSE_MIN_SESSIONS,
    per_week: int = 3,
    busy: Sequence[tuple[dt.datetime, dt.datetime]] = (),
    settings: ScheduleSettings | None = None,
    preferred_time: dt.time | None = None,
    review_after: int = REVIEW_WINDOW[1],
    max_days: int = 365,
) -> CourseSchedule:
    """Book ``sessions`` slots from ``start`` on; forces assume every session is tolerated.

    Raises InputError when the course cannot be fitted within ``max_days``.
    """
    s = settings or ScheduleSettings()
    if not COURSE_MIN_SESSIONS <= sessions <= COURSE_MAX_SESSIONS:
        raise InputError(
            "sessions",
            f"a course has {COURSE_MIN_SESSIONS}-{COURSE_MAX_SESSIONS} sessions (seed)",
            sessions,
        )
    if not MIN_PER_WEEK <= per_week <= MAX_PER_WEEK:
        raise InputError("per_week", f"must be {MIN_PER_WEEK}-{MAX_PER_WEEK}", per_week)
    if not REVIEW_WINDOW[0] <= review_after <= REVIEW_WINDOW[1]:
        raise InputError("review_after", "must be 6-8 sessions (seed)", review_after)
    for b_start, b_end in busy:
        if b_end <= b_start:
            raise InputError("busy", "interval ends before it starts", f"{b_start} - {b_end}")
        if b_start.tzinfo is not None or b_end.tzinfo is not None:
            raise InputError("busy", "use naive clinic-local datetimes", str(b_start))
    forces = projected_forces(region, body_weight_kg, segment, [True] * (sessions - 1))
    booked: list[dt.datetime] = []
    week_count: dict[tuple[int, int], int] = {}
    monday = start - dt.timedelta(days=start.weekday())
    while len(booked) < sessions:
        if (monday - start).days > max_days:
            raise InputError(
                "sessions", f"cannot fit {sessions} sessions within {max_days} days", sessions
            )
        free: list[dt.datetime] = []
        for offset in range(7):
            day = monday + dt.timedelta(days=offset)
            if day >= start and is_clinic_day(day, s):
                slot = _free_slot(day, s, busy, preferred_time)
                if slot is not None:
                    free.append(slot)
        for slot in _spread(free, min(per_week, sessions - len(booked))):
            booked.append(slot)
            week = slot.date().isocalendar()[:2]
            week_count[week] = week_count.get(week, 0) + 1
        monday += dt.timedelta(days=7)
    warnings: list[str] = []
    weeks = sorted(week_count)
    for w in weeks[1:-1]:  # the first and last weeks may be partial
        if week_count[w] < MIN_PER_WEEK:
            warnings.append(
                f"ISO week {w[0]}-W{w[1]:02d} has only {week_count[w]} session(s) "
                "(holidays or busy slots)"
            )
    length = dt.timedelta(minutes=s.slot_minutes)
    return CourseSchedule(
        sessions=[
            PlannedSession(
                number=i + 1,
                start=b,
                end=b + length,
                traction_minutes=s.traction_minutes,
                projected_peak_force_n=forces[i],
                review_point=(i + 1) == review_after,
            )
            for i, b in enumerate(booked)
        ],
        review_after_session=review_after,
        warnings=warnings,
    )


def _check_dosing_inputs(region: Region, body_weight_kg: float, segment: str) -> None:
    """Refuse what ``therapy.protocol.Protocol`` would refuse, so a planned session can run."""
    if not BODY_WEIGHT.safe_min <= body_weight_kg <= BODY_WEIGHT.safe_max:
        raise InputError(
            "body_weight_kg",
            f"must be {BODY_WEIGHT.safe_min:g}-{BODY_WEIGHT.safe_max:g} kg",
            body_weight_kg,
        )
    if segment_normalise(segment) not in SEGMENTS[region]:
        raise InputError(
            "segment",
            f"not a {region.value} segment (allowed: {', '.join(SEGMENTS[region])})",
            segment,
        )


def projected_forces(
    region: Region | str, body_weight_kg: float, segment: str, tolerated: Sequence[bool]
) -> list[float]:
    """Peak force per session given which earlier sessions were tolerated (clinical.dosing).

    ``segment`` is checked against the region so a plan never names a segment it cannot treat.
    """
    reg = Region(region)
    _check_dosing_inputs(reg, body_weight_kg, segment)
    return course_force_plan(reg, body_weight_kg, tolerated)


# --- The review point -----------------------------------------------------------------------
ReviewStatus = Literal["too_early", "improved", "not_improved", "no_baseline_pain"]


class CourseReview(BaseModel):
    model_config = ConfigDict(frozen=True)

    sessions_done: int
    review_due: bool
    status: ReviewStatus
    baseline_nrs: int | None
    current_nrs: int | None
    change_points: int | None
    change_percent: float | None
    flag_for_physician: bool
    worsened: bool
    message: str


def review_course(
    outcomes: Sequence[SessionOutcome],
    *,
    baseline_nrs: int | None = None,
    review_after: int = REVIEW_WINDOW[1],
) -> CourseReview:
    """Has pain improved by the review point? Flags the patient for the physician if not.

    Baseline: ``baseline_nrs`` or the first session's pre-session NRS. Current: the latest
    pre-session NRS (the lasting effect, not the immediate relief after traction). Improved:
    NRS down >= 2 points or >= 30% [farrar2001] [dworkin2008]. Worsening by >= 2 points is flagged
    at any time.
    """
    if not REVIEW_WINDOW[0] <= review_after <= REVIEW_WINDOW[1]:
        raise InputError("review_after", "must be 6-8 sessions (seed)", review_after)
    ordered = sorted(outcomes, key=lambda o: o.session_number)
    done = len(ordered)
    if not ordered:
        return CourseReview(
            sessions_done=0,
            review_due=False,
            status="too_early",
            baseline_nrs=baseline_nrs,
            current_nrs=None,
            change_points=None,
            change_percent=None,
            flag_for_physician=False,
            worsened=False,
            message="no sessions recorded yet",
        )
    base = ordered[0].nrs_before if baseline_nrs is None else baseline_nrs
    cur = ordered[-1].nrs_before
    change = cur - base
    pct = None if base == 0 else round(100.0 * change / base, 1)
    worsened = change >= 2
    due = done >= review_after
    status: ReviewStatus
    if base == 0:
        status = "no_baseline_pain"
    elif not due:
        status = "improved" if pain_improved(base, cur) else "too_early"
    else:
        status = "improved" if pain_improved(base, cur) else "not_improved"
    flag = status == "not_improved" or worsened
    if status == "not_improved":
        msg = (
            f"No clinically important pain improvement after {done} sessions (NRS {base} -> "
            f"{cur}): physician to review the indication before continuing."
        )
    elif worsened:
        msg = f"Pain worse than at baseline (NRS {base} -> {cur}): physician to review."
    elif status == "improved":
        msg = f"Pain improved (NRS {base} -> {cur}); continue the course."
    elif status == "no_baseline_pain":
        msg = "Baseline NRS 0: pain response cannot be judged; use the ODI."
    else:
        msg = f"Review after session {review_after}; {done} done."
    return CourseReview(
        sessions_done=done,
        review_due=due,
        status=status,
        baseline_nrs=base,
        current_nrs=cur,
        change_points=change,
        change_percent=pct,
        flag_for_physician=flag,
        worsened=worsened,
        message=msg,
    )
