"""The words every layer shares, and nothing else: a leaf that imports no other spinecare module.

``therapy/``, ``devices/``, ``sim/``, ``clinical/`` and the layers above all speak of the same
regions, segments, table types, readings and commands; defining them here keeps those layers from
importing each other for a word.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # only for a type hint: the CLI imports this leaf without loading numpy
    import numpy as np
    import numpy.typing as npt

# Loop period of the biofeedback loop: "the tension is automatically adjusted every 20
# milliseconds" [seed-spinemed].
TICK_S = 0.020
# Device-side command expiry: a table releases when no command arrives for five ticks
# (engineering choice; the AndroidAPS pattern of commands that expire [aaps]).
COMMAND_TIMEOUT_S = 0.100
# Surface EMG sampled at 1 kHz [hermens2000], delivered in one block per tick.
EMG_RATE_HZ = 1000
EMG_BLOCK = int(EMG_RATE_HZ * TICK_S)
# Standard gravity, N per kilogram-force [bipm-si].
G = 9.80665


class Region(enum.StrEnum):
    LUMBAR = "lumbar"
    CERVICAL = "cervical"


class TableType(enum.StrEnum):
    """Split tables let the lower section roll, removing most friction [lee-evans2001]."""

    SPLIT = "split"
    FIXED = "fixed"


LUMBAR_SEGMENTS: tuple[str, ...] = ("L1/2", "L2/3", "L3/4", "L4/5", "L5/S1")
CERVICAL_SEGMENTS: tuple[str, ...] = ("C2/3", "C3/4", "C4/5", "C5/6", "C6/7", "C7/T1")

SEGMENTS: dict[Region, tuple[str, ...]] = {
    Region.LUMBAR: LUMBAR_SEGMENTS,
    Region.CERVICAL: CERVICAL_SEGMENTS,
}


def segment_normalise(text: str) -> str:
    """Accept 'L4/5', 'l4-5', 'L4-L5', 'L5-S1' and return the canonical 'L4/5' form.

    Total on any text: whatever is not a segment comes back normalised but unknown, so the caller
    that checks membership in ``SEGMENTS`` names the field instead of failing on '/5' or '-'.
    """
    t = text.strip().upper().replace(" ", "").replace("-", "/")
    if "/" in t:
        upper, lower = t.split("/", 1)
        if upper and len(lower) >= 2 and lower[0] == upper[0] and lower[1:].isdecimal():
            lower = lower[1:]  # L4/L5 -> L4/5 (same letter)
        t = f"{upper}/{lower}"
    return t


def segment_region(segment: str) -> Region | None:
    """The region a segment belongs to, or None for an unknown segment."""
    seg = segment_normalise(segment)
    for region, names in SEGMENTS.items():
        if seg in names:
            return region
    return None


class DeviceState(enum.Enum):
    """Lifecycle (after ros2_control): a table accepts commands only when ACTIVE."""

    UNCONFIGURED = "unconfigured"
    INACTIVE = "inactive"
    ACTIVE = "active"
    RELEASING = "releasing"  # the table's own watchdog or stop path is releasing tension
    FAULT = "fault"
    FINISHED = "finished"


class Reading(NamedTuple):
    """One sample of every sensor, stamped ``t_s`` on the loop runner's clock (seconds).

    The runtime stamps it when it reads the table, so freshness is judged on one clock whether
    the table is simulated or real. A NamedTuple: immutable, and cheap to build 90 000 times a
    simulated session.
    """

    t_s: float
    seq: int
    force_n: float  # load cell in the traction cable, N
    winch_mm: float  # winch encoder: cable drawn in, mm (grows as the pull rises)
    stop_pressed: bool  # patient stop button (hand-held)
    state: DeviceState = DeviceState.ACTIVE
    emg_uv: npt.NDArray[np.float64] | None = None  # raw sEMG block, microvolts, EMG_BLOCK samples


class Command(NamedTuple):
    """What the table's drive is asked to do until the next command.

    ``force_n`` is the force setpoint the drive's inner force loop tracks; ``base_n`` is the
    tension the table's watchdog falls back to if commands stop arriving.
    """

    t_s: float
    force_n: float
    base_n: float
    release: bool = False  # a release to zero (final release, patient stop, fault)
    flags: tuple[str, ...] = ()
