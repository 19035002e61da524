"""One registry of the quantities the system measures or commands (after the People's Ventilator
Project): name, unit, absolute range a sensor can report, and the safe range for a patient.

UI limits, alarms, plausibility checks and the controller all read these entries, so a range is
stated once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Quantity:
    name: str
    unit: str
    absolute_min: float
    absolute_max: float
    safe_min: float
    safe_max: float
    source: str

    def plausible(self, value: float) -> bool:
        return self.absolute_min <= value <= self.absolute_max


# Device hard limit: decompression tables pull up to about 90 kg (200 lb) (DESIGN.md 4; e.g.
# DRX9000 and Triton DTS specifications quote 200 lb maximum). 90 kg * 9.81 = 883 N.
DEVICE_MAX_FORCE_N = 890.0

TRACTION_FORCE = Quantity(
    name="traction_force",
    unit="N",
    absolute_min=-50.0,  # a load cell reads slightly negative when slack; beyond this it is broken
    absolute_max=1500.0,  # load-cell full scale of the simulated table (2x device limit)
    safe_min=0.0,
    safe_max=DEVICE_MAX_FORCE_N,
    source="DESIGN.md 4: devices pull up to about 90 kg (200 lb)",
)

WINCH_POSITION = Quantity(
    name="winch_position",
    unit="mm",
    absolute_min=-5.0,
    absolute_max=400.0,  # cable travel of the simulated winch
    safe_min=0.0,
    safe_max=300.0,
    source="simulated table geometry (devices/simulated.py)",
)

EMG = Quantity(
    name="paraspinal_emg",
    unit="uV",
    absolute_min=-5000.0,
    absolute_max=5000.0,  # surface EMG rarely exceeds a few mV (De Luca 1997)
    safe_min=-5000.0,
    safe_max=5000.0,
    source="De Luca 1997, J Appl Biomech 13:135: sEMG amplitudes up to a few mV",
)

BODY_WEIGHT = Quantity(
    name="body_weight",
    unit="kg",
    absolute_min=30.0,
    absolute_max=250.0,
    safe_min=40.0,
    safe_max=200.0,
    source="clinic practice: adults; tables are rated to about 200 kg patient load",
)

REGISTRY: dict[str, Quantity] = {
    q.name: q for q in (TRACTION_FORCE, WINCH_POSITION, EMG, BODY_WEIGHT)
}
