"""Starting a planned course session from the web: the request, and the process that runs it.

``SessionStart`` is strict: a value that reaches the device must be of its type (a boolean is
not a force, a string is not a time). The checks of the session itself (role, state, order,
ranges) are ``services.sessions.course_session_prepare``'s, before the table moves.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from spinecare.errors import InputError
from spinecare.quantities import DEVICE_MAX_FORCE_N
from spinecare.services import sessions as session_svc
from spinecare.services.auth import Actor, require_clinical_writer
from spinecare.services.sessions import planned_protocol
from spinecare.store.models import TreatmentSession
from spinecare.web.deps import WebContext
from spinecare.web.live import LiveEntry
from spinecare.web.worker import ProcessSession, WorkerJob

_log = logging.getLogger(__name__)


class SessionStart(BaseModel):
    """What the set-up page (or an API client) sends to start a planned session."""

    model_config = ConfigDict(strict=True, extra="forbid")

    # allow_inf_nan=False: NaN is refused as not a finite number, not as out of range.
    minutes: float | None = Field(
        default=None,
        gt=0.0,
        le=45.0,
        allow_inf_nan=False,
        description="traction time, min (default: the course's)",
    )
    speed: float = Field(
        default=1.0,
        ge=1.0,
        le=1000.0,
        allow_inf_nan=False,
        description="simulated table only: run at this multiple of real time",
    )
    emg: bool = Field(default=False, description="use the surface-EMG channel")
    clinician_max_force_n: float | None = Field(
        default=None, gt=0.0, le=DEVICE_MAX_FORCE_N, allow_inf_nan=False
    )
    harness_fastened: bool = False
    stop_switch_in_hand: bool = False
    contraindications_reconfirmed: bool = False

    @model_validator(mode="after")
    def _checklist(self) -> Self:
        if not (
            self.harness_fastened
            and self.stop_switch_in_hand
            and self.contraindications_reconfirmed
        ):
            raise ValueError(
                "checklist: confirm the harness, the stop switch in the patient's hand and the "
                "contraindications before the start"
            )
        return self


class PauseRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    paused: bool


def start_course_session(
    ctx: WebContext, actor: Actor, session_id: int, req: SessionStart
) -> LiveEntry:
    """Start the session's process; it checks and records the session (service) and runs it."""
    require_clinical_writer(actor)
    existing = ctx.live.get(session_id)
    if existing is not None and existing.running:
        raise InputError("session", "is running already", session_id)
    table = ctx.table
    if table is None and not ctx.settings.device_simulated:
        raise InputError(
            "device", "no table on this server: start it with `spinecare serve --device URL`"
        )
    if table is not None:
        if req.speed != 1.0:
            raise InputError(
                "speed",
                "a table on the wire runs in real time (only the simulated table runs faster)",
            )
        if req.emg and not table.identity.emg:
            raise InputError("emg", "the table on the wire has no EMG channel", str(table.url))
    ctx.live.reserve()
    with ctx.store.session() as db:
        proto = planned_protocol(db, actor, session_id)
        if table is not None:  # the table's own limit covers what the session may command
            table.factory(proto, clinician_max_force_n=req.clinician_max_force_n, emg=req.emg)
        row = db.get(TreatmentSession, session_id)
        assert row is not None
        course_id, number = row.course_id, row.number
        patient_id, patient_name = row.course.patient_id, row.course.patient.name
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = Path(ctx.settings.session_root) / f"course-{course_id}" / f"s{number:02d}-{stamp}"
    job = WorkerJob(
        database_url=ctx.settings.database_url,
        session_id=session_id,
        actor_id=actor.id,
        actor_username=actor.username,
        actor_role=actor.role.value,
        out_dir=str(out_dir),
        minutes=req.minutes,
        speed=req.speed,
        emg=req.emg,
        clinician_max_force_n=req.clinician_max_force_n,
        protocol=proto.model_dump(mode="json"),
        table=table,
        screening=ctx.settings.clinic.screening.model_dump(mode="json"),
    )
    return ctx.live.start(
        session_id,
        lambda: ProcessSession(job),
        patient_id=patient_id,
        patient_name=patient_name,
        started_by=actor.username,
        clinician_max_force_n=req.clinician_max_force_n,
    )


def record_control(db: Any, user: Actor, session_id: int, control: str, reason: str = "") -> None:
    """The monitor's command in the audit log, as the user who gave it. The table has acted
    already; if the database cannot take the entry now, the session's own record still names
    who stopped it (its end reason), so the command is not answered with an error page."""
    try:
        session_svc.record_control(db, user, session_id, control, reason)
        db.commit()
    except Exception:
        db.rollback()
        _log.warning(
            "session %s: %s by %s not in the audit log", session_id, control, user.username
        )
