"""The session summary: typed, versioned, validated whenever it is read.

The course's force progression reads it: a summary that is missing, of another version, or
malformed must never count as a tolerated session (fail closed). Ground-truth scores of a
simulated patient are not part of it; they live in their own file (``truth.json``) and never in
the clinical record.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spinecare.errors import InputError, describe_validation_error
from spinecare.therapy.protocol import Protocol

SUMMARY_VERSION = 2
SUMMARY_FILE = "summary.json"
TRUTH_FILE = "truth.json"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GuardingRecord(_Model):
    """One counter-tension episode as the controller registered it."""

    onset_s: float
    phase: str
    source: str
    force_at_onset_n: float
    target_at_onset_n: float
    peak_force_n: float
    relaxed_s: float | None = None
    time_to_relax_s: float | None = None
    ramp_after_n_s: float | None = None
    peak_after_n: float | None = None
    emg_onset_s: float | None = None  # the EMG detector's back-dated start of the rise


class FaultEntry(_Model):
    kind: str
    t_s: float
    detail: str


class LoopTiming(_Model):
    period_error_ms_p50: float
    period_error_ms_p99: float
    period_error_ms_max: float
    overruns: int = Field(ge=0)
    skipped_ticks: int = Field(ge=0)
    work_ms_p99: float
    ticks: int = Field(ge=0)
    clock: str
    # What the loop was granted (CPU pinning, SCHED_FIFO, GC freeze), or why not.
    realtime: dict[str, str] = Field(default_factory=dict)


class SessionSummary(_Model):
    """What a session did, as stored with the course session it ran for."""

    schema_version: Literal[2]
    completed: bool
    aborted: bool
    stopped: bool
    faulted: bool
    end_reason: str
    simulated: bool
    duration_s: float = Field(ge=0.0)
    traction_minutes: float
    protocol: Protocol
    peak_force_n: float
    peak_target_n: float
    final_peak_target_n: float
    effective_limit_n: float
    hard_limit_n: float
    clinician_max_force_n: float | None
    body_weight_cap_n: float
    limit_violations: int = Field(ge=0)
    clamps: dict[str, int]
    guarding_detected: int = Field(ge=0)
    guarding_events: list[GuardingRecord]
    median_time_to_relax_s: float | None
    hold_time_s: float
    hold_within_10pct: float | None
    base_tension_lost_s: float
    force_time_integral_ns: float
    target_segment: str
    pull_angle_deg: float | None
    segment_force_hold_mean_n: float | None
    segment_force_is_model_estimate: Literal[True] = True
    stop_reason: str | None
    faults: list[FaultEntry]
    learned_stiffness_n_mm: float
    emg_status: str
    timing: LoopTiming
    rows: int | None = None  # telemetry rows on disk (the recorder adds it)
    # with an EMG channel: raw samples in emg.txt and the session time of the first (recorder)
    emg_samples: int | None = Field(default=None, ge=0)
    emg_first_sample_t_s: float | None = None
    telemetry_complete: bool = True
    telemetry_error: str | None = None

    @property
    def tolerated(self) -> bool:
        """Ran to its end, and neither the patient nor a fault stopped it.

        Guarding episodes alone do not count against it: the biofeedback handles them in-session.
        """
        return self.completed and not (self.aborted or self.stopped or self.faulted)


def summary_parse(data: Any) -> SessionSummary:
    """Validate a stored summary; an InputError names what is wrong (fail closed)."""
    if not isinstance(data, dict):
        raise InputError("summary", "is not a JSON object")
    try:
        return SessionSummary.model_validate(data)
    except ValidationError as exc:
        raise InputError("summary", describe_validation_error(exc)) from None


def summary_read(out_dir: Path) -> SessionSummary:
    """Read and validate ``summary.json`` of a session directory."""
    path = Path(out_dir) / SUMMARY_FILE
    if not path.is_file():
        raise InputError("output_dir", f"no {SUMMARY_FILE} (the session did not close)", str(path))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InputError("output_dir", f"unreadable {SUMMARY_FILE}: {exc}", str(path)) from None
    return summary_parse(data)
