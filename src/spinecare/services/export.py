"""Open data out of the store: a session (CSV, JSON), a course (one zip archive), a patient's
record (a FHIR R4B bundle). The converters are in ``interop/``; this module reads the store and
the session directories, checks the user may read clinical data, and hands plain records on.

A summary that does not validate as the typed ``SessionSummary`` is left out and said so in the
export's metadata (``summary_error``), never passed on as if it were one; so is telemetry or an
event log that cannot be read (``telemetry_error``, ``events_error``), each on its own. Soft-deleted
patients are not exported.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from spinecare.clinical.vocab import BmdSite, Sex
from spinecare.errors import InputError
from spinecare.interop import fhir
from spinecare.interop.records import (
    BmdData,
    DiagnosisData,
    OutcomeData,
    PatientData,
    PatientRecord,
    SessionData,
)
from spinecare.interop.tables import SessionExport, course_archive
from spinecare.runtime.recorder import (
    EMG_SAMPLES,
    EVENTS,
    TELEMETRY,
    load_events,
    load_telemetry,
)
from spinecare.runtime.summary import SessionSummary, summary_parse, summary_read
from spinecare.services._common import load
from spinecare.services.auth import Actor, require_reader
from spinecare.services.patients import load_patient
from spinecare.store.enums import SessionStatus
from spinecare.store.models import (
    BmdMeasurement,
    Course,
    Diagnosis,
    Outcome,
    TreatmentSession,
)
from spinecare.vocab import Region

# Sessions that ran (a Procedure happened): planned and cancelled ones are not exported as such.
RAN = frozenset(
    {SessionStatus.DONE.value, SessionStatus.ABORTED.value, SessionStatus.RUNNING.value}
)


def _telemetry(out_dir: Path | None) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, str]]:
    """The session's telemetry and events, each read on its own, and what could not be read
    (``telemetry_error``, ``events_error``: said in the export). The events (stops, faults,
    counter-tension episodes) are what a reader of a session needs most when the telemetry
    is gone, so a missing or unreadable ``telemetry.csv`` never takes them along."""
    if out_dir is None:
        return {}, [], {}
    problems: dict[str, str] = {}
    tel: dict[str, Any] = {}
    if not (out_dir / TELEMETRY).is_file():
        problems["telemetry_error"] = f"no {TELEMETRY} in {out_dir}"
    else:
        try:
            tel = dict(load_telemetry(out_dir))
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            problems["telemetry_error"] = f"telemetry unreadable: {exc}"
    events: list[dict[str, Any]] = []
    if not (out_dir / EVENTS).is_file():
        problems["events_error"] = f"no {EVENTS} in {out_dir}"
    else:
        try:
            events = load_events(out_dir)
        except (OSError, ValueError, RecursionError) as exc:  # ValueError: also bad UTF-8
            problems["events_error"] = f"events unreadable: {type(exc).__name__}: {exc}"
    return tel, events, problems


def session_export_dir(out_dir: Path) -> SessionExport:
    """A session directory written by ``session run`` (no database): its files as open data."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise InputError("dir", "not a directory", str(out_dir))
    summary = summary_read(out_dir)
    tel, events, problems = _telemetry(out_dir)
    meta: dict[str, Any] = {"source": "session directory", "directory": str(out_dir.resolve())}
    meta.update(problems)
    return SessionExport(meta, summary, tel, events, _raw_emg(out_dir))


def _raw_emg(out_dir: Path | None) -> bytes | None:
    """The session's emg.txt as it was written, or None (no EMG, no directory, unreadable)."""
    if out_dir is None:
        return None
    try:
        return (out_dir / EMG_SAMPLES).read_bytes()
    except OSError:
        return None


def _summary(data: Any) -> tuple[SessionSummary | None, str | None]:
    if data is None:
        return None, None
    try:
        return summary_parse(data), None
    except InputError as exc:
        return None, str(exc)


def _session_export(s: TreatmentSession) -> SessionExport:
    summary, error = _summary(s.summary)
    out_dir = Path(s.telemetry_dir) if s.telemetry_dir else None
    tel, events, problems = _telemetry(out_dir)
    meta: dict[str, Any] = {
        "session_id": s.id,
        "course_id": s.course_id,
        "patient_id": s.course.patient_id,
        "number": s.number,
        "status": s.status,
        "scheduled_start": s.scheduled_start.astimezone(UTC).isoformat(),
        "protocol": s.protocol,
    }
    if error:
        meta["summary_error"] = error
    meta.update(problems)
    return SessionExport(meta, summary, tel, events)


def session_export(db: Session, actor: Actor, session_id: int) -> SessionExport:
    require_reader(actor)
    s = load(db, TreatmentSession, session_id, "session")
    load_patient(db, s.course.patient_id)  # a deleted patient's sessions are not exported
    export = _session_export(s)
    raw = _raw_emg(Path(s.telemetry_dir) if s.telemetry_dir else None)
    return export if raw is None else replace(export, raw_emg=raw)


def _outcome_rows(db: Session, course_id: int) -> list[Outcome]:
    return list(
        db.scalars(select(Outcome).where(Outcome.course_id == course_id).order_by(Outcome.id))
    )


def course_archive_bytes(db: Session, actor: Actor, course_id: int) -> bytes:
    """The whole course as one zip (course.json, outcomes.csv, sessions/NN/..., MANIFEST)."""
    require_reader(actor)
    c = load(db, Course, course_id, "course")
    load_patient(db, c.patient_id)
    numbers = {s.id: s.number for s in c.sessions}
    sessions_meta = []
    for s in c.sessions:
        summary, error = _summary(s.summary)
        sessions_meta.append({
            "id": s.id, "number": s.number, "status": s.status,
            "scheduled_start": s.scheduled_start.astimezone(UTC).isoformat(),
            "protocol": s.protocol,
            "summary": None if summary is None else summary.model_dump(mode="json"),
            **({"summary_error": error} if error else {}),
        })  # fmt: skip
    course = {
        "course_id": c.id,
        "patient_id": c.patient_id,
        "region": c.region,
        "segment": c.segment,
        "planned_sessions": c.planned_sessions,
        "sessions_per_week": c.sessions_per_week,
        "start_date": c.start_date.isoformat(),
        "status": c.status,
        "sessions": sessions_meta,
    }
    outcomes = [
        {
            "session_number": numbers.get(o.session_id) if o.session_id else None,
            "kind": o.kind,
            "value": float(o.value),
            "recorded_at": o.recorded_at.astimezone(UTC).isoformat(),
        }
        for o in _outcome_rows(db, c.id)
    ]
    ran = [(s.number, _session_export(s)) for s in c.sessions if s.status in RAN]
    return course_archive(course, ran, outcomes)


def patient_record(db: Session, actor: Actor, patient_id: int) -> PatientRecord:
    """Everything of one patient the FHIR bundle carries, as plain records."""
    require_reader(actor)
    p = load_patient(db, patient_id)
    diagnoses = db.scalars(
        select(Diagnosis).where(Diagnosis.patient_id == patient_id).order_by(Diagnosis.id)
    ).all()
    bmd = db.scalars(
        select(BmdMeasurement)
        .where(BmdMeasurement.patient_id == patient_id)
        .order_by(BmdMeasurement.id)
    ).all()
    courses = db.scalars(select(Course).where(Course.patient_id == patient_id)).all()
    sessions: list[SessionData] = []
    outcomes: list[OutcomeData] = []
    for c in sorted(courses, key=lambda c: c.id):
        numbers = {s.id: s.number for s in c.sessions}
        for s in c.sessions:
            if s.status not in RAN:
                continue
            summary, _ = _summary(s.summary)
            sessions.append(SessionData(
                id=s.id, course_id=c.id, number=s.number, status=s.status,
                scheduled_start=s.scheduled_start.astimezone(UTC), region=Region(c.region),
                segment=c.segment, summary=summary,
            ))  # fmt: skip
        for o in _outcome_rows(db, c.id):
            outcomes.append(OutcomeData(
                id=o.id, kind=o.kind, value=o.value, recorded_at=o.recorded_at.astimezone(UTC),
                course_id=c.id, session_number=numbers.get(o.session_id) if o.session_id else None,
            ))  # fmt: skip
    return PatientRecord(
        patient=PatientData(id=p.id, name=p.name, birth_date=p.birth_date, sex=Sex(p.sex)),
        diagnoses=[
            DiagnosisData(id=d.id, icd10=d.icd10, text=d.text, diagnosed_on=d.diagnosed_on)
            for d in diagnoses
        ],
        bmd=[_bmd(b) for b in bmd],
        outcomes=sorted(outcomes, key=lambda o: o.id),
        sessions=sessions,
    )


def _bmd(b: BmdMeasurement) -> BmdData:
    return BmdData(
        id=b.id,
        measured_on=b.measured_on,
        site=BmdSite(b.site),
        bmd_g_cm2=b.bmd_g_cm2,
        t_score=b.t_score,
        z_score=b.z_score,
        device=b.device,
        manufacturer=b.manufacturer,
        valid=b.valid,
    )


def patient_bundle_json(
    db: Session, actor: Actor, patient_id: int, *, now: datetime | None = None
) -> str:
    """The patient's record as FHIR R4B bundle JSON (validated by fhir.resources)."""
    return fhir.bundle_json(patient_record(db, actor, patient_id), timestamp=now)
