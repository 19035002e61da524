"""A session run days before its booked day warns before the table moves; pain is recorded
only for a session that ran (the CLI: tests/cli/test_outcome_cli.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spinecare.errors import InputError
from spinecare.services.auth import Actor
from spinecare.services.outcomes import NrsRecord, record_nrs
from spinecare.services.sessions import course_session_prepare
from spinecare.store import Store
from spinecare.store.audit import AuditedSession
from spinecare.store.enums import Role
from spinecare.store.models import Outcome
from tests.services.test_sessions import _course, _factory


def test_nrs_is_refused_for_a_session_not_yet_run(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    ids = _course(db, actors, patient_id)
    with pytest.raises(InputError, match=r"is planned.*once the session has run.*run it first"):
        record_nrs(db, actors[Role.THERAPIST], ids[0], NrsRecord(nrs_before=6))
    assert db.query(Outcome).count() == 0  # nothing stored, the session does not count as done


def test_a_session_run_a_week_early_warns_before_the_table_moves(
    store: Store, db: AuditedSession, actors: dict[Role, Actor], patient_id: int, tmp_path: Path
) -> None:
    ids = _course(db, actors, patient_id)  # first session booked at least a week ahead
    live = course_session_prepare(
        store.unit_of_work, actors[Role.THERAPIST], ids[0], _factory(), out_dir=tmp_path / "s",
        minutes=2.5,
    )  # fmt: skip
    assert len(live.warnings) == 1
    assert "is booked for" in live.warnings[0] and "reschedule it" in live.warnings[0]
    live.run()  # releases its lock


@pytest.mark.parametrize(("minutes", "warned"), [(0.2, True), (1.3, True), (1.4, False)])
def test_a_traction_time_too_short_for_one_pull_is_said_before_the_table_moves(
    minutes: float, warned: bool
) -> None:
    from spinecare.runtime.clock import SimulatedClock
    from spinecare.services.sessions import SessionOptions, session_prepare
    from spinecare.therapy.protocol import default_protocol
    from spinecare.vocab import Region

    proto = default_protocol(Region.LUMBAR, 70.0, "L4/5", traction_minutes=minutes)
    live = session_prepare(proto, _factory(), options=SessionOptions(clock=SimulatedClock()))
    assert any("base tension only" in w for w in live.warnings) is warned
    done = live.run()
    # what was said is what the table did: a pull above base only where one fitted
    assert (done.summary.peak_force_n > 1.5 * proto.base_force_n) is not warned


def test_days_early_are_counted_on_the_clinics_calendar() -> None:
    """A session booked for 00:30 in Munich lies on that day, not the day before (UTC's)."""
    from datetime import UTC, date, datetime
    from zoneinfo import ZoneInfo

    from spinecare.services.sessions import session_days_early

    berlin = ZoneInfo("Europe/Berlin")
    booked = datetime(2026, 12, 3, 0, 30, tzinfo=berlin)
    now = datetime(2026, 12, 1, 10, 0, tzinfo=berlin).astimezone(UTC)
    assert session_days_early(booked.astimezone(UTC), now, berlin) == (date(2026, 12, 3), 2)
    assert session_days_early(booked, now.replace(day=2), berlin) is None  # one day: ordinary


def test_a_second_session_on_the_same_day_is_said_before_the_table_moves(
    store: Store, db: AuditedSession, actors: dict[Role, Actor], patient_id: int, tmp_path: Path
) -> None:
    """Sessions run one after the other (or two courses' sessions on one day) give the spine
    several doses of traction in a day; the planner never books that, so the start says so."""
    from datetime import UTC, datetime

    from spinecare.store.models import TreatmentSession

    ids = _course(db, actors, patient_id)
    first = db.get(TreatmentSession, ids[0])
    assert first is not None
    first.status, first.started_at = "done", datetime.now(UTC)
    db.commit()
    live = course_session_prepare(
        store.unit_of_work, actors[Role.THERAPIST], ids[1], _factory(), out_dir=tmp_path / "s",
        minutes=2.5,
    )  # fmt: skip
    try:
        assert any(
            w.startswith("the patient was treated today already (session 1 of course ")
            for w in live.warnings
        ), live.warnings
    finally:
        live.run()  # releases its lock
