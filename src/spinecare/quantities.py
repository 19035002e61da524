"""One registry of the quantities the system measures, commands or is told (after the People's
Ventilator Project's ``VALUES`` table [pvp2020]): unit, the absolute range a sensor or an input
can take, the safe range for a patient, decimals for display, and the source.

Protocol validation, the CLI's argument checks, the monitor's scales and the safety policy's
plausibility checks all read these entries, so a range is stated once.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from spinecare.errors import InputError


class Q(enum.StrEnum):
    TRACTION_FORCE = "traction_force"
    WINCH_POSITION = "winch_position"
    WINCH_SPEED = "winch_speed"
    EMG = "paraspinal_emg"
    BODY_WEIGHT = "body_weight"
    PEAK_FORCE = "peak_force"
    BASE_FORCE = "base_force"
    CLINICIAN_MAX_FORCE = "clinician_max_force"
    RAMP_UP_RATE = "ramp_up_rate"
    RAMP_DOWN_RATE = "ramp_down_rate"
    HOLD_TIME = "hold_time"
    REST_TIME = "rest_time"
    SESSION_MINUTES = "session_minutes"
    SESSION_NUMBER = "session_number"
    PULL_ANGLE = "pull_angle"
    PLAYBACK_SPEED = "playback_speed"
    PROGRESSIVE_STEPS = "progressive_steps"
    REGRESSIVE_STEPS = "regressive_steps"
    LOG_RAMP_FACTOR = "log_ramp_factor"
    OSCILLATION_AMPLITUDE = "oscillation_amplitude"
    OSCILLATION_FREQUENCY = "oscillation_frequency"


@dataclass(frozen=True, slots=True)
class Quantity:
    """``absolute_*``: what can physically or formally occur; ``safe_*``: what may be used.

    ``safe_min_exclusive``: the lower safe bound itself is not allowed (a traction time of 0).
    """

    name: str
    unit: str
    absolute_min: float
    absolute_max: float
    safe_min: float
    safe_max: float
    decimals: int
    source: str
    safe_min_exclusive: bool = False

    def plausible(self, value: float) -> bool:
        """Within what a working sensor can report (NaN is not)."""
        return self.absolute_min <= value <= self.absolute_max

    def safe(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        low_ok = value > self.safe_min if self.safe_min_exclusive else value >= self.safe_min
        return low_ok and value <= self.safe_max

    def describe_range(self) -> str:
        low = "above" if self.safe_min_exclusive else "at least"
        return f"must be {low} {self.safe_min:g} and at most {self.safe_max:g} {self.unit}"

    def check(self, value: float, field: str) -> float:
        """``value`` if within the safe range, else an InputError naming the field."""
        if not self.safe(value):
            raise InputError(field, self.describe_range(), value)
        return value


# Device hard limit: decompression tables pull up to about 90 kg (200 lb), e.g. the DRX9000 and
# Triton DTS specifications quote 200 lb maximum [drx9000-manual] [triton-dts-manual];
# 90 kg * 9.80665 = 883 N, rounded up to the 890 N the drive is rated for.
DEVICE_MAX_FORCE_N = 890.0
# The drive's top winch speed (simulated table, sim/patient_model.py): 100 mm/s releases the
# device limit through the softest lumbar chain (about 11 N/mm) within a second (engineering
# choice).
WINCH_MAX_SPEED_MM_S = 100.0

REGISTRY: dict[Q, Quantity] = {
    Q(q.name): q
    for q in (
        Quantity(
            "traction_force",
            "N",
            -50.0,  # a load cell reads slightly negative when slack; beyond this it is broken
            1500.0,  # load-cell full scale of the simulated table (about 1.7x the device limit)
            0.0,
            DEVICE_MAX_FORCE_N,
            0,
            "device limit [drx9000-manual]; load-cell full scale: simulated table",
        ),
        Quantity(
            "winch_position",
            "mm",
            -5.0,
            400.0,  # cable travel of the simulated winch
            0.0,
            300.0,
            1,
            "simulated table geometry (devices/simulated.py)",
        ),
        Quantity(
            "winch_speed",
            "mm/s",
            -WINCH_MAX_SPEED_MM_S,
            WINCH_MAX_SPEED_MM_S,
            -WINCH_MAX_SPEED_MM_S,
            WINCH_MAX_SPEED_MM_S,
            1,
            "drive top speed of the simulated table (engineering choice)",
        ),
        Quantity(
            "paraspinal_emg",
            "uV",
            -5000.0,
            5000.0,  # surface EMG rarely exceeds a few mV [deluca1997]
            -5000.0,
            5000.0,
            1,
            "sEMG amplitudes up to a few mV [deluca1997]",
        ),
        Quantity(
            "body_weight",
            "kg",
            30.0,
            250.0,
            40.0,
            200.0,
            1,
            "adults; tables are rated to about 200 kg patient load [drx9000-manual]",
        ),
        Quantity(
            "peak_force",
            "N",
            0.0,
            DEVICE_MAX_FORCE_N,
            0.0,
            DEVICE_MAX_FORCE_N,
            0,
            "device limit; the protocol's %-body-weight maximum is checked separately",
            safe_min_exclusive=True,
        ),
        Quantity(
            "base_force",
            "N",
            0.0,
            DEVICE_MAX_FORCE_N,
            0.0,
            DEVICE_MAX_FORCE_N,
            0,
            "base tension about 50% of peak [vaxd-patent]; below the peak (checked separately)",
        ),
        Quantity(
            "clinician_max_force",
            "N",
            0.0,
            DEVICE_MAX_FORCE_N,
            0.0,
            DEVICE_MAX_FORCE_N,
            0,
            "a clinician may only lower the device limit",
            safe_min_exclusive=True,
        ),
        Quantity(
            "ramp_up_rate",
            "N/s",
            0.0,
            100.0,
            0.5,
            100.0,
            1,
            "engineering range around the default ramps (therapy/protocol.py)",
            safe_min_exclusive=True,
        ),
        Quantity(
            "ramp_down_rate",
            "N/s",
            0.0,
            200.0,
            0.5,
            200.0,
            1,
            "engineering range around the default ramps (therapy/protocol.py)",
            safe_min_exclusive=True,
        ),
        Quantity(
            "hold_time",
            "s",
            5.0,
            300.0,
            5.0,
            300.0,
            0,
            "60 s hold / 30 s rest cycles of peer programmes [drx9000-manual] [ramos-martin1994]",
        ),
        Quantity(
            "rest_time",
            "s",
            5.0,
            300.0,
            5.0,
            300.0,
            0,
            "60 s hold / 30 s rest cycles of peer programmes [drx9000-manual] [ramos-martin1994]",
        ),
        Quantity(
            "session_minutes",
            "min",
            0.0,
            45.0,
            0.0,
            45.0,
            1,
            "30 min traction in a 45 min slot [seed-spinemed]",
            safe_min_exclusive=True,
        ),
        Quantity(
            "session_number",
            "",
            1.0,
            40.0,
            1.0,
            40.0,
            0,
            "courses of 15-20 sessions [seed-spinemed]; room for a repeated course",
        ),
        Quantity(
            "pull_angle",
            "deg",
            -10.0,
            45.0,
            -10.0,
            45.0,
            1,
            "cervical 15-35 deg of flexion [hseuh1991]; lumbar pelvic angles below that",
        ),
        Quantity(
            "playback_speed",
            "x",
            1.0,
            1000.0,
            1.0,
            1000.0,
            0,
            "simulation only: how many times real time a demonstration runs",
        ),
        # Treatment modes (therapy/profile.py, docs/modes.md).
        Quantity(
            "progressive_steps",
            "",
            0.0,
            10.0,
            0.0,
            10.0,
            0,
            "progressive phase of peer tables [triton-dts-manual] [atp9-k992733]; at most 10 "
            "(engineering choice: each step is a whole cycle, 10 fill about half a session)",
        ),
        Quantity(
            "regressive_steps",
            "",
            0.0,
            10.0,
            0.0,
            10.0,
            0,
            "regressive phase of peer tables [triton-dts-manual] [atp9-k992733]; at most 10 "
            "(engineering choice, as the progressive steps)",
        ),
        Quantity(
            "log_ramp_factor",
            "x",
            1.0,
            10.0,
            1.5,
            5.0,
            1,
            "how much steeper a logarithmic ramp starts than its mean rate [vaxd-patent]; "
            "engineering range (1.5: nearly straight, 5: most of the rise in the first tenth)",
        ),
        Quantity(
            "oscillation_amplitude",
            "N",
            0.0,
            100.0,
            0.0,
            50.0,
            1,
            "hold oscillation [busch2023]; no published amplitude: engineering range, further "
            "bounded by 5% of the peak, the span above base and the rise limit "
            "(therapy/protocol.py)",
        ),
        Quantity(
            "oscillation_frequency",
            "Hz",
            0.0,
            5.0,
            0.05,
            0.25,
            2,
            "hold oscillation [busch2023]; no published frequency: engineering range (periods of "
            "4-20 s; faster swings made the force path stop without counter-tension in the "
            "simulated cohort, docs/modes.md)",
        ),
    )
}

TRACTION_FORCE = REGISTRY[Q.TRACTION_FORCE]
WINCH_POSITION = REGISTRY[Q.WINCH_POSITION]
WINCH_SPEED = REGISTRY[Q.WINCH_SPEED]
EMG = REGISTRY[Q.EMG]
BODY_WEIGHT = REGISTRY[Q.BODY_WEIGHT]
SESSION_MINUTES = REGISTRY[Q.SESSION_MINUTES]
CLINICIAN_MAX_FORCE = REGISTRY[Q.CLINICIAN_MAX_FORCE]
