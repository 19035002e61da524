"""The fault catalogue of the virtual cohort: what can go wrong in a session, and how each is
injected.

Six faults are the simulated table's own (sim/faults.py: sensor and physical faults); the other
three come from outside the table: the patient presses the stop button, the controller raises,
the loop stalls. Each faulted session gets one fault of the catalogue at a random time; the
session must end in the safe state (commanded zero, the table slack) with no limit violation.
"""

from __future__ import annotations

import enum

from spinecare.errors import InputError
from spinecare.sim.faults import InjectedFault


class CohortFault(enum.StrEnum):
    DROPOUT = "dropout"
    STUCK_LOAD_CELL = "stuck_load_cell"
    FORCE_SPIKE = "force_spike"
    ENCODER_JUMP = "encoder_jump"
    HARNESS_SLIP = "harness_slip"
    ACTUATOR_STALL = "actuator_stall"
    PATIENT_STOP = "patient_stop"
    CONTROLLER_EXCEPTION = "controller_exception"
    LOOP_OVERRUN = "loop_overrun"


# The table's faults by their catalogue name.
TABLE_FAULTS = {f: InjectedFault(f.value) for f in CohortFault if f.value in set(InjectedFault)}
# Durations of the table's faults, s (engineering choice: long enough for the policy's detectors
# (a stuck load cell needs 15 ticks, a stall 25, SAF-8) and, for good, a stall).
FAULT_DURATION_S = {
    CohortFault.DROPOUT: 1.0,
    CohortFault.STUCK_LOAD_CELL: 5.0,
    CohortFault.FORCE_SPIKE: 1.0,
    CohortFault.ENCODER_JUMP: 5.0,
    CohortFault.HARNESS_SLIP: 1.0,
    CohortFault.ACTUATOR_STALL: float("inf"),
}
# A loop stall of 10 ticks (engineering choice: five times the SAF-12 limit of 2 ticks).
LOOP_STALL_S = 0.2
# Faults are injected between the end of the pretension and 30 s before the traction ends
# (engineering choice: while the table pulls; the policy's release is what is under test).
FAULT_EARLIEST_S = 20.0
FAULT_LATEST_BEFORE_END_S = 30.0


def catalogue_parse(text: str) -> tuple[CohortFault, ...]:
    """``all``, or kinds separated by commas (``stuck_load_cell,patient_stop``)."""
    t = text.strip().lower()
    if t in ("", "none"):
        return ()
    if t == "all":
        return tuple(CohortFault)
    out = []
    for name in t.split(","):
        try:
            out.append(CohortFault(name.strip()))
        except ValueError:
            allowed = ", ".join(f.value for f in CohortFault)
            raise InputError("faults", f"unknown fault (allowed: all, {allowed})", name) from None
    return tuple(dict.fromkeys(out))
