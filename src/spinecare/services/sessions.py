"""Run a decompression session, and record it against its course.

The CLI, the web app and the virtual cohort all start sessions here: a device factory, a
protocol, the acting user and, optionally, a planned course session. For a course session the
order is fixed by what a clinic must be able to rely on:

1. before the table moves: the user's permission, the session's state (planned, next in its
   course, patient not deleted, course not cancelled) and the protocol's ranges are checked;
   sessions an earlier process left unfinished are closed as aborted;
2. the session is recorded as ``running`` with its output directory, so a process killed in
   the middle leaves a trace (and a lock that dies with it);
3. the session runs (no database connection is held during the loop);
4. the typed summary is stored, the status set, and the later sessions' forces re-planned from
   the stored protocol: one progression step only after a tolerated session, none when the
   summary is missing or invalid (fail closed).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from spinecare.clinical.contraindications import Decision, ScreeningSettings
from spinecare.devices.base import Device
from spinecare.errors import InputError, describe_validation_error
from spinecare.quantities import CLINICIAN_MAX_FORCE, SESSION_MINUTES
from spinecare.runtime.clock import Clock, SessionClock, SimulatedClock
from spinecare.runtime.loop import RealtimeOptions
from spinecare.runtime.recorder import EMG_SAMPLES, EVENTS, TELEMETRY, Recorder, existing_record
from spinecare.runtime.session import (
    TELEMETRY_COLUMNS,
    SessionResult,
    SessionRunner,
    TickSubscriber,
)
from spinecare.runtime.summary import TRUTH_FILE, SessionSummary, summary_parse, summary_read
from spinecare.services._common import act_as, as_utc, load, utcnow
from spinecare.services.auth import Actor, require_clinical_writer, require_reader
from spinecare.services.courses import (
    SessionPublic,
    progress_protocol,
    protocol_at_weight,
    session_public,
)
from spinecare.services.screening import evaluate_screening
from spinecare.settings import clinic_day
from spinecare.store.audit import record_event
from spinecare.store.enums import AuditAction, CourseStatus, SessionStatus
from spinecare.store.files import named, write_private
from spinecare.store.models import Course, Patient, TreatmentSession
from spinecare.therapy.controller import DecompressionController
from spinecare.therapy.protocol import Protocol
from spinecare.vocab import EMG_RATE_HZ

# A device factory gets the session clock's ``now``: a simulated table follows it; a real
# table's driver stamps its readings with it.
DeviceFactory = Callable[[Callable[[], float]], Device]
UnitOfWork = Callable[[], contextlib.AbstractContextManager[Session]]
LOCK_FILE = ".running"
# Sessions that no longer hold up the next one: run, ended, called off, or missed (a no-show
# keeps its place in the course; a replacement is booked at its end, services/schedule.py).
FINISHED_STATES = frozenset(
    {
        SessionStatus.DONE.value,
        SessionStatus.ABORTED.value,
        SessionStatus.CANCELLED.value,
        SessionStatus.NO_SHOW.value,
    }
)


@dataclass(frozen=True, slots=True)
class SessionOptions:
    """How to run: the clock (monotonic for a patient, simulated for fast runs) and the rest."""

    clock: Clock = field(default_factory=SimulatedClock)
    realtime: RealtimeOptions | None = None
    emg: bool = False
    clinician_max_force_n: float | None = None
    subscribers: Sequence[TickSubscriber] = ()
    tick_view_every: int = 1
    fsync: bool = True


@dataclass(slots=True)
class SessionRun:
    """A finished session: its summary, where its files are, what it was recorded as."""

    summary: SessionSummary
    out_dir: Path | None
    truth: dict[str, Any] | None
    result: SessionResult
    course_session: SessionPublic | None = None

    @property
    def outcome(self) -> str:
        s = self.summary
        if s.stopped:
            return "stopped"
        if s.faulted or not s.telemetry_complete:
            return "fault"
        return "completed" if s.completed else "aborted"


class LiveSession:
    """A session prepared to run; ``request_stop`` may be called from any thread."""

    def __init__(
        self,
        runner: SessionRunner,
        device: Device,
        out_dir: Path | None,
        finish: Callable[[SessionRun], SessionPublic | None] | None,
        lock: Callable[[], None] | None,
    ) -> None:
        self.runner = runner
        self._device = device
        self.out_dir = out_dir
        self._finish = finish
        self._unlock = lock
        # What the user should know before the table moves (e.g. a session run early).
        self.warnings: list[str] = []

    @property
    def protocol(self) -> Protocol:
        return self.runner.protocol

    @property
    def simulated(self) -> bool:
        """What the table says it is; shown on every monitor (SAF-16)."""
        return self.runner.simulated

    def request_stop(self, reason: str = "patient stop") -> None:
        self.runner.request_stop(reason)

    def request_pause(self, paused: bool = True) -> None:
        """PAUSE holds the current force and stops the session clock; ``False`` resumes."""
        self.runner.request_pause(paused)

    def run(self) -> SessionRun:
        try:
            result = self.runner.run()
            truth = _truth(result, self._device)
            if truth is not None and self.out_dir is not None:
                # Whole or not at all: a full disk must not leave an empty truth.json.
                with contextlib.suppress(OSError):
                    write_private(self.out_dir / TRUTH_FILE, json.dumps(truth, indent=2).encode())
            done = SessionRun(result.summary, self.out_dir, truth, result)
            if self._finish is not None:
                done.course_session = self._finish(done)
            return done
        finally:
            if self._unlock is not None:
                self._unlock()


def protocol_checked(protocol: Protocol, *, minutes: float | None = None) -> Protocol:
    """Re-validate a protocol from any source (``model_copy`` and ``model_construct`` skip
    validation), with an optional traction time that must be within its range as well."""
    data = protocol.model_dump()
    if minutes is not None:
        data["traction_minutes"] = SESSION_MINUTES.check(minutes, "minutes")
    try:
        return Protocol.model_validate(data)
    except ValidationError as exc:
        raise InputError("protocol", describe_validation_error(exc)) from None


def session_prepare(
    protocol: Protocol,
    device_factory: DeviceFactory,
    *,
    options: SessionOptions | None = None,
    out_dir: Path | None = None,
) -> LiveSession:
    """A session that is not part of a course (demonstration, engineering, cohort)."""
    opts = options or SessionOptions()
    proto = protocol_checked(protocol)
    return _live(proto, device_factory, opts, out_dir, finish=None, lock=None)


def session_run(
    protocol: Protocol,
    device_factory: DeviceFactory,
    *,
    options: SessionOptions | None = None,
    out_dir: Path | None = None,
) -> SessionRun:
    return session_prepare(protocol, device_factory, options=options, out_dir=out_dir).run()


def require_unused(out_dir: Path) -> None:
    """Refuse a directory that holds a session's record already (any of its files): a record
    is never overwritten nor mixed with another one (``runtime.recorder.existing_record``)."""
    held = existing_record(out_dir)
    if held:
        raise InputError(
            "out",
            f"holds a session's record already ({', '.join(held)}); choose a new directory",
            str(out_dir),
        )


def course_session_prepare(
    unit_of_work: UnitOfWork,
    actor: Actor,
    session_id: int,
    device_factory: DeviceFactory,
    *,
    out_dir: Path,
    minutes: float | None = None,
    options: SessionOptions | None = None,
    screening: ScreeningSettings | None = None,
) -> LiveSession:
    """Check, close what earlier processes left, record ``running``; the table has not moved.

    ``screening``: the clinic's screening settings (the defaults when None)."""
    opts = options or SessionOptions()
    require_clinical_writer(actor)  # before anything else, and before the table moves
    out_dir = Path(out_dir)
    require_unused(out_dir)
    with unit_of_work() as db:
        act_as(db, actor)
        close_unfinished(db, actor)
    with unit_of_work() as db:
        act_as(db, actor)
        s = _runnable(db, session_id)
        _patient_free(db, s)
        _screened(db, actor, s, screening)
        planned = Protocol.model_validate(s.protocol)
        weight_kg = float(s.course.patient.weight_kg)
        at_weight = protocol_at_weight(planned, weight_kg)
        proto = protocol_checked(at_weight, minutes=minutes)
        _treats(proto)
        reweighed = _reweighed(planned, proto)
        if reweighed:  # the session runs, and the course progresses, from the current weight
            s.protocol = at_weight.model_dump(mode="json")
        out_dir.mkdir(parents=True, exist_ok=True)
        unlock = _lock(out_dir)
        try:
            stamp = utcnow()
            early = _early_warning(s, stamp)
            twice = _treated_today(db, s)
            s.status = SessionStatus.RUNNING.value
            s.telemetry_dir = str(out_dir.resolve())
            s.started_at = stamp  # the date of service on the invoice (§12(2) Nr. 1 GOÄ [goae])
            s.updated_at = stamp
            db.flush()
        except BaseException:
            unlock()
            raise

    def finish(done: SessionRun) -> SessionPublic:
        with unit_of_work() as db:
            return record_result(db, actor, session_id, done.summary)

    try:
        live = _live(proto, device_factory, opts, out_dir, finish=finish, lock=unlock)
    except BaseException:
        # The table has not moved (the output could not be opened, the table not reached): the
        # session is planned again, not left running for the next start to close as aborted.
        with contextlib.suppress(Exception), unit_of_work() as db:
            act_as(db, actor)
            _unstart(db, session_id, str(out_dir.resolve()))
        unlock()
        raise
    if early:
        live.warnings.append(early)
    if twice:
        live.warnings.append(twice)
    if reweighed:
        live.warnings.append(reweighed)
    return live


def _reweighed(planned: Protocol, now: Protocol) -> str | None:
    """What changed because the patient's weight did since the course was planned."""
    if now.body_weight_kg == planned.body_weight_kg:
        return None
    text = (
        f"the patient weighs {now.body_weight_kg:g} kg now ({planned.body_weight_kg:g} kg when "
        "the course was planned): the body-weight limits follow the current weight"
    )
    if now.peak_force_n < planned.peak_force_n:
        text += f", the peak is lowered from {planned.peak_force_n:g} to {now.peak_force_n:g} N"
    return text


def _unstart(db: Session, session_id: int, telemetry_dir: str) -> None:
    """Undo ``running`` for a session whose table never moved (only if nothing else took it)."""
    s = db.get(TreatmentSession, session_id)
    if s is None or s.status != SessionStatus.RUNNING.value or s.telemetry_dir != telemetry_dir:
        return
    s.status = SessionStatus.PLANNED.value
    s.telemetry_dir = None
    s.started_at = None
    s.updated_at = utcnow()
    db.flush()


# A session run this many days or more before the day it was booked for is worth a word: the
# course's spacing (2-5 a week, clinical/course.py) is what the progression assumes (clinic
# choice; a day earlier, when a slot frees up, is ordinary).
EARLY_WARNING_DAYS = 2


def session_days_early(
    booked_at: datetime, now: datetime, zone: ZoneInfo | None = None
) -> tuple[date, int] | None:
    """(booked day, days ahead) on the clinic's calendar when running the session ``now`` is
    early enough to warn; None otherwise. The service warns and the set-up page shows it."""
    booked = clinic_day(booked_at, zone)
    days = (booked - clinic_day(now, zone)).days
    return (booked, days) if days >= EARLY_WARNING_DAYS else None


def _early_warning(s: TreatmentSession, now: datetime) -> str | None:
    early = session_days_early(s.scheduled_start, now)
    if early is None:
        return None
    booked, days = early
    return (
        f"session {s.number} is booked for {booked.isoformat()}, {days} days from today: "
        "running it now shortens the course's spacing (reschedule it if that is not intended)"
    )


def _live(
    proto: Protocol,
    device_factory: DeviceFactory,
    opts: SessionOptions,
    out_dir: Path | None,
    *,
    finish: Callable[[SessionRun], SessionPublic | None] | None,
    lock: Callable[[], None] | None,
) -> LiveSession:
    if opts.clinician_max_force_n is not None:
        CLINICIAN_MAX_FORCE.check(opts.clinician_max_force_n, "clinician-max")
    clock = SessionClock(opts.clock)
    device = device_factory(clock.now)
    emg_detector = None
    if opts.emg:
        from spinecare.signals.emg import EmgGuardingDetector

        emg_detector = EmgGuardingDetector()
    recorder = _open_recorder(out_dir, opts.fsync, emg=opts.emg) if out_dir else None
    runner = SessionRunner(
        proto,
        device,
        clock=clock,
        recorder=recorder,
        emg_detector=emg_detector,
        clinician_max_force_n=opts.clinician_max_force_n,
        subscribers=opts.subscribers,
        tick_view_every=opts.tick_view_every,
        realtime=opts.realtime,
    )
    live = LiveSession(runner, device, out_dir, finish, lock)
    need = runner.controller.first_pull_s()
    if need > proto.traction_minutes * 60.0:
        live.warnings.append(
            f"the traction time of {proto.traction_minutes:g} min is shorter than one pull "
            f"(ramp and hold take about {need:.0f} s): the table keeps base tension only"
        )
    return live


def _open_recorder(out_dir: Path, fsync: bool, *, emg: bool = False) -> Recorder:
    """Open the session's files before the table moves. When that fails (a full or read-only
    disk), the empty files just made are removed, so the directory can be used again, and the
    error names the directory (a failed flush carries no file name). With EMG the raw samples
    are kept too (``emg.txt``, for ``emg detect``)."""
    try:
        hz = float(EMG_RATE_HZ) if emg else None
        return Recorder(out_dir, TELEMETRY_COLUMNS, fsync=fsync, samples_hz=hz)
    except FileExistsError:
        raise
    except OSError as exc:
        for name in (TELEMETRY, EVENTS, EMG_SAMPLES):
            with contextlib.suppress(OSError):
                if (out_dir / name).stat().st_size == 0:
                    (out_dir / name).unlink()
        if exc.filename is None:
            raise named(exc, out_dir) from None
        raise


def _truth(result: SessionResult, device: Device) -> dict[str, Any] | None:
    """Ground-truth scores of a simulated patient (its own file, never the clinical record)."""
    if not device.simulated or not hasattr(device, "truth"):
        return None
    from spinecare.devices.simulated import SimulatedTable
    from spinecare.runtime.metrics import score_against_truth

    if not isinstance(device, SimulatedTable):
        return None
    # Scored until the pull began to end: the planned end, a stop, a fault the policy found or
    # one injected into the table (a load-cell spike is the fault's, not a false stop, even in
    # the tick before the policy names it). What happens during the release is not scored.
    truth = device.truth
    ends = [result.controller.protocol.traction_minutes * 60.0]
    ends += [f.t_s for f in result.policy.faults[:1]] + [f.began_s for f in truth.faults[:1]]
    if result.policy.stop_requested_s is not None:
        ends.append(result.policy.stop_requested_s)
    return score_against_truth(
        result.controller.events,
        truth,
        session_end_s=min(ends),
        noise_sd_n=device.load_cell_sigma_n,
    )


# -- the course record --------------------------------------------------------------------
def _screened(
    db: Session, actor: Actor, s: TreatmentSession, settings: ScreeningSettings | None
) -> None:
    """The contraindications again, before every session: a finding recorded since the course
    was planned (a fracture, a pregnancy) stops the next session, and a screening that was
    incomplete at planning must be completed before session 1, as planning said."""
    course = s.course
    result = evaluate_screening(db, actor, course.patient_id, course.region, settings=settings)
    if result.decision is Decision.NOT_ELIGIBLE:
        codes = ", ".join(f"{c.code} {c.title}" for c in result.contraindications)
        raise InputError(
            "course-session",
            f"the patient is not eligible for {course.region} decompression now ({codes}); "
            "the session does not run",
            s.id,
        )
    if result.decision is Decision.INCOMPLETE:
        items = ", ".join(sorted({m.code for m in result.missing}))
        raise InputError(
            "course-session",
            f"the screening is incomplete (missing {items}): complete it before this session",
            s.id,
        )


def _runnable(db: Session, session_id: int, field: str = "course-session") -> TreatmentSession:
    """A session that may be run, or recorded from a run elsewhere, now: planned, of a living
    patient and course, and the next in its course (a course progresses session by session)."""
    s = load(db, TreatmentSession, session_id, "session")
    course = s.course
    if course.patient.deleted_at is not None:  # first: it explains a cancelled session too
        raise InputError(field, "its patient has been deleted", session_id)
    if s.status != SessionStatus.PLANNED.value:
        raise InputError(field, f"is {s.status}, not planned", session_id)
    if course.status == CourseStatus.CANCELLED.value:
        raise InputError(field, "its course is cancelled", session_id)
    earlier = [x for x in course.sessions if x.number < s.number]
    open_ = [x.number for x in earlier if x.status not in FINISHED_STATES]
    if open_:
        raise InputError(
            field,
            f"session {open_[0]} of this course has not run yet (sessions run in order)",
            session_id,
        )
    return s


def _treats(proto: Protocol) -> None:
    """A course session is a treatment on the record: it progresses the course and is billed.
    A traction time too short for one pull (the ramp and the first hold) would record a
    "completed" session in which the table only ever held base tension."""
    need = DecompressionController(proto).first_pull_s()
    if need > proto.traction_minutes * 60.0:
        raise InputError(
            "minutes",
            f"{proto.traction_minutes:g} min is shorter than one pull (the ramp and the first "
            f"hold take {need / 60.0:.1f} min): no treatment would take place",
            proto.traction_minutes,
        )


def _patient_free(db: Session, s: TreatmentSession) -> None:
    """A patient lies on one table at a time: refuse while another of the patient's sessions
    runs (another course on another table; ``close_unfinished`` has closed what a dead process
    left). A no-op write on the patient's row first serialises two starts for one patient
    (PostgreSQL locks the row, SQLite the database) so both cannot pass the check at once."""
    pid = s.course.patient_id
    db.execute(update(Patient).where(Patient.id == pid).values(id=Patient.id))
    other = db.execute(
        select(TreatmentSession.number, Course.id)
        .join(Course, TreatmentSession.course_id == Course.id)
        .where(
            Course.patient_id == pid,
            TreatmentSession.status == SessionStatus.RUNNING.value,
            TreatmentSession.id != s.id,
        )
    ).first()
    if other is not None:
        raise InputError(
            "course-session",
            f"the patient is in session {other[0]} of course {other[1]} right now "
            "(one session at a time)",
            s.id,
        )


def _treated_today(db: Session, s: TreatmentSession) -> str | None:
    """A word when the patient has had a session today already: the planner books at most one
    a day (clinical/course.py), and sessions run early one after the other, or two courses'
    sessions on one day, give the spine several doses of traction in a day, each progressing
    the force. Said at the start (the CLI's stderr, the monitor), not refused: the clinic
    decides (clinic choice; the seed names no frequency [seed-spinemed])."""
    today = clinic_day(utcnow())
    for number, course_id, started in db.execute(
        select(TreatmentSession.number, Course.id, TreatmentSession.started_at)
        .join(Course, TreatmentSession.course_id == Course.id)
        .where(
            Course.patient_id == s.course.patient_id,
            TreatmentSession.status == SessionStatus.DONE.value,
            TreatmentSession.id != s.id,
        )
    ).all():
        if started is not None and clinic_day(as_utc(started)) == today:
            return (
                f"the patient was treated today already (session {number} of course "
                f"{course_id}): this is a second dose of traction on one day"
            )
    return None


def _lock(out_dir: Path) -> Callable[[], None]:
    """Hold an exclusive lock in the output directory for as long as this process runs the
    session; a killed process drops it, which is how the next start knows it is unfinished."""
    fd = os.open(out_dir / LOCK_FILE, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise InputError(
            "out", "another process is running a session there", str(out_dir)
        ) from None

    def unlock() -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    return unlock


def held_by_a_live_process(telemetry_dir: str | None) -> bool:
    """True while a live process holds the lock a session run keeps in its output directory
    (``_lock``); a killed or crashed one has dropped it. A directory without the lock file
    never had a process running there. Nothing is created: the test leaves no trace."""
    if not telemetry_dir:
        return False
    try:
        fd = os.open(Path(telemetry_dir) / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True  # still running in another process
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def close_unfinished(db: Session, actor: Actor, *, now: datetime | None = None) -> list[int]:
    """Close sessions left ``running`` by a process that is gone, as aborted with the telemetry
    they have (a summary if the recorder wrote one, else none: never counted as tolerated)."""
    require_clinical_writer(actor)
    closed = []
    rows = db.scalars(
        select(TreatmentSession).where(TreatmentSession.status == SessionStatus.RUNNING.value)
    ).all()
    for s in rows:
        if held_by_a_live_process(s.telemetry_dir):
            continue
        summary: dict[str, Any] | None = None
        if s.telemetry_dir:
            with contextlib.suppress(InputError):
                summary = summary_read(Path(s.telemetry_dir)).model_dump(mode="json")
        s.status = SessionStatus.ABORTED.value
        s.summary = summary
        s.updated_at = utcnow(now)
        _replan_forces(db, s.course, s, tolerated=False, stamp=utcnow(now))
        closed.append(s.id)
    db.flush()
    return closed


def record_result(
    db: Session,
    actor: Actor,
    session_id: int,
    summary: SessionSummary,
    *,
    now: datetime | None = None,
) -> SessionPublic:
    """Store a running session's summary and re-plan the rest of the course."""
    require_clinical_writer(actor)
    act_as(db, actor)
    s = load(db, TreatmentSession, session_id, "session")
    if s.status != SessionStatus.RUNNING.value:
        raise InputError("session", f"is {s.status}, not running", session_id)
    return _store(db, s, summary, utcnow(now))


def _store(
    db: Session, s: TreatmentSession, summary: SessionSummary, stamp: datetime
) -> SessionPublic:
    s.summary = summary.model_dump(mode="json")
    s.status = (SessionStatus.DONE if summary.completed else SessionStatus.ABORTED).value
    s.updated_at = stamp
    course = s.course
    if course.status == CourseStatus.PLANNED.value:
        course.status = CourseStatus.ACTIVE.value
        course.updated_at = stamp
    _replan_forces(db, course, s, summary.tolerated, stamp)
    db.flush()
    return session_public(s, course.review_after_session)


def tolerated(summary: Any) -> bool:
    """Whether a stored summary counts as tolerated; anything invalid does not (fail closed)."""
    try:
        return summary_parse(summary).tolerated
    except InputError:
        return False


def get_session(session: Session, actor: Actor, session_id: int) -> SessionPublic:
    require_reader(actor)
    s = load(session, TreatmentSession, session_id, "session")
    return session_public(s, s.course.review_after_session)


def planned_protocol(session: Session, actor: Actor, session_id: int) -> Protocol:
    """The protocol a planned session of a course will run (validated again before use)."""
    require_reader(actor)
    s = load(session, TreatmentSession, session_id, "session")
    if s.status != SessionStatus.PLANNED.value:
        raise InputError("course-session", f"is {s.status}, not planned", session_id)
    return protocol_at_weight(
        Protocol.model_validate(s.protocol), float(s.course.patient.weight_kg)
    )


def attach_output(
    session: Session,
    actor: Actor,
    session_id: int,
    output_dir: Path,
    *,
    now: datetime | None = None,
) -> SessionPublic:
    """Record a planned session from a finished output directory (a session run elsewhere).

    The summary must be valid and must be of this session's patient and protocol; anything
    else is refused with the reason, and nothing is stored.
    """
    require_clinical_writer(actor)
    act_as(session, actor)
    s = load(session, TreatmentSession, session_id, "session")
    if s.status != SessionStatus.PLANNED.value:
        raise InputError("session", f"already {s.status}", session_id)
    _runnable(session, session_id, "session")  # as if it ran here: in order, a living record
    summary = summary_read(output_dir)
    planned = Protocol.model_validate(s.protocol)
    ran = summary.protocol
    for name in ("region", "segment", "body_weight_kg"):
        if getattr(ran, name) != getattr(planned, name):
            raise InputError(
                "output_dir",
                f"the session there ran {name}={getattr(ran, name)}, "
                f"this session plans {getattr(planned, name)}",
                str(output_dir),
            )
    if ran.peak_force_n > planned.peak_force_n + 1e-6:
        raise InputError(
            "output_dir",
            f"the session there pulled to {ran.peak_force_n:g} N, above the planned "
            f"{planned.peak_force_n:g} N",
            str(output_dir),
        )
    record = summary.model_dump(mode="json")
    where = str(Path(output_dir).resolve())
    for other in (x for c in s.course.patient.courses for x in c.sessions):
        # the same directory is refused by the store (one directory, one session)
        if other.id != s.id and other.telemetry_dir != where and other.summary == record:
            # a copy of a directory already attached: one run is the record of one session
            raise InputError(
                "output_dir",
                f"holds the same run as session {other.id} (#{other.number}), already recorded "
                "from it; a session is recorded from its own run only",
                str(output_dir),
            )
    s.telemetry_dir = where
    stamp = utcnow(now)
    # Ran elsewhere: it started when its summary was written, less its duration.
    written = datetime.fromtimestamp((Path(output_dir) / "summary.json").stat().st_mtime, UTC)
    s.started_at = min(stamp, written - timedelta(seconds=summary.duration_s))
    return _store(session, s, summary, stamp)


def _replan_forces(
    session: Session, course: Course, done: TreatmentSession, tolerated: bool, stamp: datetime
) -> None:
    """Later planned sessions from the protocol stored for ``done`` (never from a summary)."""
    previous = Protocol.model_validate(done.protocol)
    later = session.scalars(
        select(TreatmentSession)
        .where(
            TreatmentSession.course_id == course.id,
            TreatmentSession.number > done.number,
            TreatmentSession.status == SessionStatus.PLANNED.value,
        )
        .order_by(TreatmentSession.number)
    ).all()
    step_ok = tolerated
    for nxt in later:
        proto = progress_protocol(previous, step_ok)
        proto = proto.model_copy(update={"session_number": nxt.number})
        new = proto.model_dump(mode="json")
        if new != nxt.protocol:
            nxt.protocol = new
            nxt.updated_at = stamp
        previous, step_ok = proto, True  # later sessions: projected as tolerated


def record_control(
    session: Session, actor: Actor, session_id: int, control: str, reason: str = ""
) -> None:
    """A stop, pause or resume given on a running session's monitor, in the audit log under
    the user who gave it. The process that runs the session records its result as the user
    who started it; without this entry the log would name the starter for a stop that a
    colleague gave. The caller has acted on the table already: the entry never delays it."""
    require_clinical_writer(actor)
    act_as(session, actor)
    s = load(session, TreatmentSession, session_id, "session")
    record_event(
        session,
        "sessions",
        s.id,
        AuditAction.UPDATE,
        before={"status": s.status},
        after={"status": s.status, "control": control, "reason": reason or None},
    )


def cancel_session(
    session: Session, actor: Actor, session_id: int, *, now: datetime | None = None
) -> SessionPublic:
    require_clinical_writer(actor)
    act_as(session, actor)
    s = load(session, TreatmentSession, session_id, "session")
    if s.status != SessionStatus.PLANNED.value:
        raise InputError("session", f"already {s.status}", session_id)
    s.status = SessionStatus.CANCELLED.value
    s.updated_at = utcnow(now)
    session.flush()
    return session_public(s, s.course.review_after_session)
