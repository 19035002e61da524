"""Starting a planned course session from the web: the request, the device, the loop thread.

``SessionStart`` is strict: a value that reaches the device must be of its type (a boolean is
not a force, a string is not a time). The checks of the session itself (role, state, order,
ranges) are ``services.sessions.course_session_prepare``'s, before the table moves.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from spinecare.errors import InputError
from spinecare.quantities import DEVICE_MAX_FORCE_N
from spinecare.runtime.session import TickView
from spinecare.services.auth import Actor, require_clinical_writer
from spinecare.services.sessions import (
    DeviceFactory,
    LiveSession,
    SessionOptions,
    course_session_prepare,
    planned_protocol,
)
from spinecare.store.models import TreatmentSession
from spinecare.therapy.protocol import Protocol
from spinecare.web.deps import WebContext
from spinecare.web.live import LiveEntry

# SCHED_FIFO priority of a real-time loop thread, as `spinecare session run` asks for it:
# above every normal process, below the kernel's threaded interrupts (50).
REALTIME_PRIORITY = 40


class SessionStart(BaseModel):
    """What the set-up page (or an API client) sends to start a planned session."""

    model_config = ConfigDict(strict=True, extra="forbid")

    minutes: float | None = Field(
        default=None, gt=0.0, le=45.0, description="traction time, min (default: the course's)"
    )
    speed: float = Field(
        default=1.0,
        ge=1.0,
        le=1000.0,
        description="simulated table only: run at this multiple of real time",
    )
    emg: bool = Field(default=False, description="use the surface-EMG channel")
    clinician_max_force_n: float | None = Field(default=None, gt=0.0, le=DEVICE_MAX_FORCE_N)
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
    """Check and record the session (service), then run its loop in a thread of its own."""
    require_clinical_writer(actor)
    existing = ctx.live.get(session_id)
    if existing is not None and existing.running:
        raise InputError("session", "is running already", session_id)
    if not ctx.settings.device_simulated:
        raise InputError("device", "no table driver is configured on this server")
    ctx.live.reserve()
    with ctx.store.session() as db:
        proto = planned_protocol(db, actor, session_id)
        row = db.get(TreatmentSession, session_id)
        assert row is not None
        course_id, number = row.course_id, row.number
        patient_id, patient_name = row.course.patient_id, row.course.patient.name
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = Path(ctx.settings.session_root) / f"course-{course_id}" / f"s{number:02d}-{stamp}"

    def prepare(on_tick: Callable[[TickView], None]) -> LiveSession:
        from spinecare.runtime.clock import Clock, MonotonicClock, PacedClock
        from spinecare.runtime.loop import RealtimeOptions

        real_time = req.speed == 1.0
        # In a server the loop threads share the interpreter: a plain sleep (no spinning on
        # the clock) leaves the interpreter to the other threads; its wake-up error (about
        # 1 ms, runtime/clock.py) is far inside the 20 ms period.
        clock: Clock = MonotonicClock(spin_s=0.0) if real_time else PacedClock(req.speed)
        options = SessionOptions(
            clock=clock,
            realtime=RealtimeOptions(fifo_priority=REALTIME_PRIORITY, gc_freeze=False)
            if real_time
            else None,
            emg=req.emg,
            clinician_max_force_n=req.clinician_max_force_n,
            subscribers=(on_tick,),
            tick_view_every=1,
        )
        return course_session_prepare(
            ctx.store.unit_of_work,
            actor,
            session_id,
            _device_factory(proto, session_id, req.emg),
            out_dir=out_dir,
            minutes=req.minutes,
            options=options,
        )

    return ctx.live.start(
        session_id,
        prepare,
        patient_id=patient_id,
        patient_name=patient_name,
        started_by=actor.username,
    )


def _device_factory(proto: Protocol, seed: int, emg: bool) -> DeviceFactory:
    """The simulated table with a virtual patient of the protocol's weight and region."""
    from spinecare.cohort.run import VirtualSession, make_table

    vs = VirtualSession(
        seed=seed,
        region=proto.region,
        weight_kg=proto.body_weight_kg,
        segment=proto.segment,
        table=proto.table,
        emg=emg,
        session_number=proto.session_number,
    )
    return lambda now: make_table(vs, now)


def view_dict(v: TickView) -> dict[str, object]:
    return {
        "t_s": v.t_s,
        "phase": v.phase,
        "target_n": v.target_n,
        "measured_n": v.measured_n,
        "segment_force_n": v.segment_force_n,
        "time_left_s": v.time_left_s,
        "guarding_events": v.guarding_events,
        "ended": v.ended,
        "end_reason": v.end_reason,
    }
