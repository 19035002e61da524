"""Recording a finished session and adapting the rest of the course to it.

The runtime writes one directory per session (``telemetry.csv``, ``events.jsonl``,
``summary.json``). Attaching it links the directory, stores the summary, sets the status
(``done`` or ``aborted``) and re-derives the force of every later planned session: one
progression step only after a tolerated session (``therapy.protocol.next_session_protocol``).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from spinecare.errors import InputError
from spinecare.services._common import act_as, load, utcnow
from spinecare.services.auth import Actor, require_clinical_writer, require_reader
from spinecare.services.courses import SessionPublic, progress_protocol, session_public
from spinecare.store.enums import CourseStatus, SessionStatus
from spinecare.store.models import Course, TreatmentSession
from spinecare.therapy.protocol import Protocol

SUMMARY_FILE = "summary.json"


def tolerated(summary: dict[str, Any]) -> bool:
    """A session counts as tolerated when it ran to the end and nobody pressed stop.

    Guarding episodes alone do not count against it: the biofeedback handles them in-session.
    """
    return not summary.get("aborted", False) and not summary.get("stopped", False)


def read_summary(output_dir: Path) -> dict[str, Any]:
    path = Path(output_dir) / SUMMARY_FILE
    if not path.is_file():
        raise InputError(
            "output_dir", f"no {SUMMARY_FILE} (session did not close)", str(output_dir)
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(
            "output_dir", f"unreadable {SUMMARY_FILE}: {exc}", str(output_dir)
        ) from None
    if not isinstance(data, dict):
        raise InputError("output_dir", f"{SUMMARY_FILE} is not a JSON object", str(output_dir))
    return data


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
    return Protocol.model_validate(s.protocol)


def attach_output(
    session: Session,
    actor: Actor,
    session_id: int,
    output_dir: Path,
    *,
    now: datetime | None = None,
) -> SessionPublic:
    """Link a finished session's output directory and store its summary."""
    require_clinical_writer(actor)
    act_as(session, actor)
    s = load(session, TreatmentSession, session_id, "session")
    if s.status != SessionStatus.PLANNED.value:
        raise InputError("session", f"already {s.status}", session_id)
    summary = read_summary(output_dir)
    stamp = utcnow(now)
    s.telemetry_dir = str(Path(output_dir).resolve())
    s.summary = summary
    s.status = (SessionStatus.ABORTED if summary.get("aborted") else SessionStatus.DONE).value
    s.updated_at = stamp
    course = s.course
    if course.status == CourseStatus.PLANNED.value:
        course.status = CourseStatus.ACTIVE.value
        course.updated_at = stamp
    _replan_forces(session, course, s, tolerated(summary), stamp)
    session.flush()
    return session_public(s, course.review_after_session)


def _replan_forces(
    session: Session, course: Course, done: TreatmentSession, ok: bool, stamp: datetime
) -> None:
    ran = done.summary.get("protocol") if done.summary else None
    try:  # the protocol that actually ran, if the summary carries a valid one
        previous = Protocol.model_validate(ran)
    except ValidationError:
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
    step_ok = ok
    for nxt in later:
        proto = progress_protocol(previous, step_ok)
        proto = proto.model_copy(update={"session_number": nxt.number})
        new = proto.model_dump(mode="json")
        if new != nxt.protocol:
            nxt.protocol = new
            nxt.updated_at = stamp
        previous, step_ok = proto, True  # later sessions: projected as tolerated


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
