"""Running a course session through the service: checked before the table moves, recorded as
running before the first tick, closed as aborted after a kill, progression fail-closed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from spinecare.cohort.run import VirtualSession, make_table
from spinecare.errors import InputError
from spinecare.runtime.summary import summary_read
from spinecare.services.auth import Actor
from spinecare.services.courses import CoursePlan, get_course, plan_course
from spinecare.services.errors import PermissionDeniedError
from spinecare.services.patients import delete_patient
from spinecare.services.sessions import (
    DeviceFactory,
    course_session_prepare,
    tolerated,
)
from spinecare.store import Store
from spinecare.store.audit import AuditedSession
from spinecare.store.enums import Role
from spinecare.store.models import TreatmentSession
from spinecare.vocab import Region
from tests.services.conftest import next_weekday
from tests.services.test_screening_courses import _complete_screening


def _course(db: AuditedSession, actors: dict[Role, Actor], patient_id: int) -> list[int]:
    _complete_screening(db, actors[Role.THERAPIST], patient_id)
    plan = CoursePlan(
        patient_id=patient_id, region="lumbar", segment="L4/5", sessions=15, start=next_weekday(0)
    )
    course = plan_course(db, actors[Role.PHYSICIAN], plan)
    db.commit()
    return [s.id for s in course.sessions]


def _factory(calls: list[float] | None = None) -> DeviceFactory:
    def make(now: Callable[[], float]) -> Any:
        if calls is not None:
            calls.append(now())
        vs = VirtualSession(seed=3, region=Region.LUMBAR, weight_kg=70.0, segment="L4/5")
        return make_table(vs, now)

    return make


def _status(store: Store, session_id: int) -> str:
    with store.session() as db:
        row = db.get(TreatmentSession, session_id)
        assert row is not None
        return row.status


def test_a_course_session_runs_and_is_recorded(
    store: Store,
    db: AuditedSession,
    actors: dict[Role, Actor],
    patient_id: int,
    tmp_path: Path,
) -> None:
    ids = _course(db, actors, patient_id)
    ther = actors[Role.THERAPIST]
    before = get_course(db, ther, db.get(TreatmentSession, ids[0]).course_id)  # type: ignore[union-attr]
    live = course_session_prepare(
        store.unit_of_work, ther, ids[0], _factory(), out_dir=tmp_path / "s1", minutes=2.5
    )
    # Recorded as running before the first tick.
    assert _status(store, ids[0]) == "running"
    done = live.run()
    assert done.summary.completed and done.outcome == "completed"
    assert done.course_session is not None and done.course_session.status.value == "done"
    assert summary_read(tmp_path / "s1").tolerated
    db.expire_all()
    after = get_course(db, ther, before.id)
    # Tolerated: the next session's force goes up one step.
    assert after.sessions[1].peak_force_n > before.sessions[1].peak_force_n - 1e-9
    assert after.sessions[0].summary is not None
    assert "guarding_true" not in after.sessions[0].summary  # no simulation truth in the record


def test_a_role_that_may_not_treat_is_refused_before_the_table_moves(
    store: Store,
    db: AuditedSession,
    actors: dict[Role, Actor],
    patient_id: int,
    tmp_path: Path,
) -> None:
    ids = _course(db, actors, patient_id)
    calls: list[float] = []
    with pytest.raises(PermissionDeniedError):
        course_session_prepare(
            store.unit_of_work,
            actors[Role.BILLING],
            ids[0],
            _factory(calls),
            out_dir=tmp_path / "b",
        )
    assert calls == [] and _status(store, ids[0]) == "planned"
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("minutes", [0.0, -1.0, 100.0, float("nan"), float("inf"), 1e-6, 0.5])
def test_a_traction_time_out_of_range_is_refused_and_nothing_is_stored(
    store: Store,
    db: AuditedSession,
    actors: dict[Role, Actor],
    patient_id: int,
    tmp_path: Path,
    minutes: float,
) -> None:
    ids = _course(db, actors, patient_id)
    calls: list[float] = []
    with pytest.raises(InputError, match="minutes"):
        course_session_prepare(
            store.unit_of_work,
            actors[Role.THERAPIST],
            ids[0],
            _factory(calls),
            out_dir=tmp_path / "m",
            minutes=minutes,
        )
    assert calls == [] and _status(store, ids[0]) == "planned"


def test_sessions_run_in_order_and_only_for_a_living_record(
    store: Store,
    db: AuditedSession,
    actors: dict[Role, Actor],
    patient_id: int,
    tmp_path: Path,
) -> None:
    ids = _course(db, actors, patient_id)
    ther = actors[Role.THERAPIST]
    with pytest.raises(InputError, match="in order"):
        course_session_prepare(store.unit_of_work, ther, ids[1], _factory(), out_dir=tmp_path / "a")
    delete_patient(db, actors[Role.PHYSICIAN], patient_id)
    db.commit()
    calls: list[float] = []
    with pytest.raises(InputError, match="deleted"):
        course_session_prepare(
            store.unit_of_work, ther, ids[0], _factory(calls), out_dir=tmp_path / "b"
        )
    assert calls == [] and _status(store, ids[0]) == "cancelled"  # with the patient


def test_a_summary_that_is_missing_or_invalid_never_counts_as_tolerated() -> None:
    assert not tolerated(None)
    assert not tolerated({})
    assert not tolerated({"aborted": False, "stopped": False})
    assert not tolerated([1, 2])


_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from spinecare.cohort.run import VirtualSession, make_table
    from spinecare.runtime.clock import PacedClock
    from spinecare.services.sessions import SessionOptions, course_session_prepare
    from spinecare.services.users import actor_for
    from spinecare.store import open_store
    from spinecare.vocab import Region

    store = open_store(url=sys.argv[1])
    with store.session() as db:
        actor = actor_for(db, "therapist")
    vs = VirtualSession(seed=3, region=Region.LUMBAR, weight_kg=70.0, segment="L4/5")
    live = course_session_prepare(
        store.unit_of_work, actor, int(sys.argv[2]), lambda now: make_table(vs, now),
        out_dir=Path(sys.argv[3]), options=SessionOptions(clock=PacedClock(20.0), fsync=True),
    )
    print("running", flush=True)
    live.run()
    """
)


def test_a_killed_session_is_closed_as_aborted_with_its_telemetry_on_the_next_start(
    tmp_path: Path,
) -> None:
    from spinecare.store import open_store

    url = f"sqlite:///{tmp_path / 'k.db'}"
    store = open_store(url=url)
    try:
        from spinecare.services.patients import add_patient
        from tests.services.conftest import make_users, patient_data

        with store.unit_of_work() as db:
            actors = make_users(db, (Role.PHYSICIAN, Role.THERAPIST))
            pid = add_patient(db, actors[Role.THERAPIST], patient_data()).id
        with store.session() as db:
            ids = _course(db, actors, pid)
        out = tmp_path / "killed"
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
        proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, url, str(ids[0]), str(out)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "running"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # some telemetry on disk, then kill -9
                tel = out / "telemetry.csv"
                if tel.exists() and tel.stat().st_size > 5_000:
                    break
                time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert _status(store, ids[0]) == "running"  # the trace the kill left
        # It cannot be run again as if nothing had happened.
        with pytest.raises(InputError, match="not planned"):
            course_session_prepare(
                store.unit_of_work,
                actors[Role.THERAPIST],
                ids[0],
                _factory(),
                out_dir=tmp_path / "x",
            )
        # The next start closes it as aborted, with the telemetry it has, before running.
        live = course_session_prepare(
            store.unit_of_work, actors[Role.THERAPIST], ids[1], _factory(), out_dir=tmp_path / "n"
        )
        assert _status(store, ids[0]) == "aborted"
        with store.session() as db:
            row = db.get(TreatmentSession, ids[0])
            assert row is not None and row.telemetry_dir == str(out.resolve())
            assert not tolerated(row.summary)
        live.request_stop("test over")
        assert live.run().outcome == "stopped"
    finally:
        store.dispose()


def test_a_patient_lies_on_one_table_at_a_time(
    store: Store,
    db: AuditedSession,
    actors: dict[Role, Actor],
    patient_id: int,
    tmp_path: Path,
) -> None:
    """Another course of the same patient (cervical beside lumbar) cannot start while one of
    the patient's sessions runs; once it has ended, it can."""
    ids = _course(db, actors, patient_id)
    plan = CoursePlan(
        patient_id=patient_id, region="cervical", segment="C5/6", sessions=15,
        start=next_weekday(1),
    )  # fmt: skip
    other = plan_course(db, actors[Role.PHYSICIAN], plan)
    db.commit()
    ther = actors[Role.THERAPIST]
    live = course_session_prepare(
        store.unit_of_work, ther, ids[0], _factory(), out_dir=tmp_path / "a", minutes=2.5
    )
    calls: list[float] = []
    with pytest.raises(InputError, match=r"the patient is in session 1 of course \d+ right now"):
        course_session_prepare(
            store.unit_of_work, ther, other.sessions[0].id, _factory(calls), out_dir=tmp_path / "b"
        )
    assert calls == [] and _status(store, other.sessions[0].id) == "planned"
    live.run()
    course_session_prepare(
        store.unit_of_work, ther, other.sessions[0].id, _factory(), out_dir=tmp_path / "c",
        minutes=2.5,
    ).run()  # fmt: skip
    assert _status(store, other.sessions[0].id) == "done"


def test_a_course_session_runs_at_the_patients_current_weight(
    store: Store,
    db: AuditedSession,
    actors: dict[Role, Actor],
    patient_id: int,
    tmp_path: Path,
) -> None:
    """The body-weight caps (SAF-3) follow the weight on record now, not the one the course
    was planned with: a lower weight lowers the peak (never the other way) and says so."""
    from spinecare.clinical.dosing import progression_ceiling_fraction, weight_force_n
    from spinecare.services.patients import PatientUpdate, edit_patient

    ids = _course(db, actors, patient_id)
    planned = db.get(TreatmentSession, ids[0])
    assert planned is not None
    before_kg, before_peak = planned.protocol["body_weight_kg"], planned.protocol["peak_force_n"]
    edit_patient(db, actors[Role.THERAPIST], patient_id, PatientUpdate(weight_kg=40))
    db.commit()
    live = course_session_prepare(
        store.unit_of_work, actors[Role.THERAPIST], ids[0], _factory(),
        out_dir=tmp_path / "w", minutes=2.5,
    )  # fmt: skip
    assert any(f"weighs 40 kg now ({before_kg:g} kg" in w for w in live.warnings)
    done = live.run()
    cap = weight_force_n(40.0, progression_ceiling_fraction(Region.LUMBAR))
    assert done.summary.protocol.body_weight_kg == 40.0
    assert done.summary.peak_target_n <= cap + 0.1 < before_peak
    assert done.summary.peak_force_n <= done.summary.body_weight_cap_n + 1.0
    db.expire_all()
    nxt = db.get(TreatmentSession, ids[1])
    assert nxt is not None and nxt.protocol["body_weight_kg"] == 40.0  # progression follows
