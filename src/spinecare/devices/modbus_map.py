"""The register map of a spinecare traction table on Modbus (docs/modbus.md is its reference).

Pure encoding and decoding, no I/O: the driver (``devices/modbus.py``) and the simulator's
server (``devices/modbus_sim.py``) share these addresses, scales and codes, so the two ends of
the wire cannot disagree. All registers are 16 bit, big-endian as Modbus defines them
[modbus-app]; 32-bit values take two registers, high word first. One address space serves
function codes 3, 4, 6 and 16 alike.

Three blocks:

* the status block (``STATUS_ADDR``), read in one request every tick: sample counter, state,
  fault code, flags, load cell, encoder, EMG envelope, the last command taken, the drive's own
  setpoint, and, on a table with an EMG channel, the last 20 ms of raw sEMG;
* the identity block (``IDENTITY_ADDR``), read once when the driver configures the table:
  map version, capabilities, the table's own limits and watchdog, vendor, model, serial;
* the command block (``COMMAND_ADDR``), written in one request every tick, and the control
  register (``CONTROL_ADDR``) that activates and deactivates the table.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass

from spinecare.vocab import EMG_BLOCK, DeviceState

MAP_VERSION = 1

# --- addresses and lengths -------------------------------------------------------------------
STATUS_ADDR = 0x0000
STATUS_SEQ = 0  # offsets within the status block
STATUS_STATE = 1
STATUS_FAULT = 2
STATUS_FLAGS = 3
STATUS_FORCE = 4
STATUS_WINCH = 5  # and 6 (32 bit)
STATUS_EMG_ENV = 7
STATUS_CMD_ACK = 8
STATUS_DRIVE_SETPOINT = 9
STATUS_FIXED_LEN = 10
STATUS_EMG = STATUS_FIXED_LEN  # EMG_BLOCK raw samples follow the fixed part
STATUS_LEN = STATUS_FIXED_LEN + EMG_BLOCK

IDENTITY_ADDR = 0x0100
ID_VERSION = 0
ID_CAPS = 1
ID_MAX_FORCE = 2
ID_FULL_SCALE = 3
ID_TRAVEL = 4
ID_MAX_SPEED = 5
ID_WATCHDOG_MS = 6
ID_EMG_RATE = 7
ID_FIRMWARE = 8
ID_VENDOR = 9
TEXT_REGS = 8  # 16 ASCII characters, NUL padded
ID_MODEL = ID_VENDOR + TEXT_REGS
ID_SERIAL = ID_MODEL + TEXT_REGS
IDENTITY_LEN = ID_SERIAL + TEXT_REGS

COMMAND_ADDR = 0x0200
CMD_SEQ = 0
CMD_FORCE = 1
CMD_BASE = 2
CMD_FLAGS = 3
COMMAND_LEN = 4
CONTROL_ADDR = 0x0210

# --- scales (engineering choices, docs/modbus.md) --------------------------------------------
# Load cell and force setpoints: 0.1 N per count, the simulated load cell's own resolution
# (devices/simulated.py), so the status block carries its readings without loss.
FORCE_LSB_N = 0.1
# Encoder: 0.01 mm per count (the simulated encoder's resolution), signed 32 bit.
WINCH_LSB_MM = 0.01
# Raw sEMG: 0.2 uV per count, signed 16 bit: +/-6553 uV covers the registry's +/-5000 uV.
EMG_LSB_UV = 0.2
# EMG envelope: 0.1 uV per count, unsigned.
EMG_ENV_LSB_UV = 0.1
TRAVEL_LSB_MM = 0.1
SPEED_LSB_MM_S = 0.1

U16 = 0xFFFF
S16_MIN, S16_MAX = -0x8000, 0x7FFF
S32_MIN, S32_MAX = -0x8000_0000, 0x7FFF_FFFF

# Status flags.
FLAG_STOP = 1 << 0  # patient switch pressed
FLAG_WATCHDOG = 1 << 1  # the command watchdog has expired since the last activation
FLAG_EMG = 1 << 2  # the EMG block holds a valid sample block
# Capabilities.
CAP_SIMULATED = 1 << 0
CAP_EMG = 1 << 1
CAP_PATIENT_SWITCH = 1 << 2
# Command flags.
CMDF_RELEASE = 1 << 0  # release to zero (final release, stop, fault)
CMDF_KNOWN = CMDF_RELEASE


class Control(enum.IntEnum):
    """Values of the control register."""

    ACTIVATE = 1  # accept commands; the drive holds the force the cable has now
    DEACTIVATE = 2  # release to zero and stop accepting commands


# State register: the Device lifecycle, one code each.
STATE_CODES: dict[DeviceState, int] = {
    DeviceState.UNCONFIGURED: 0,
    DeviceState.INACTIVE: 1,
    DeviceState.ACTIVE: 2,
    DeviceState.RELEASING: 3,
    DeviceState.FAULT: 4,
    DeviceState.FINISHED: 5,
}
CODE_STATES: dict[int, DeviceState] = {v: k for k, v in STATE_CODES.items()}


class FaultCode(enum.IntEnum):
    """The fault register. Classes after the Triton DTS's error groups: 1xx general, 2xx
    internal, 3xx critical [triton-dts-manual]. 0 is no fault."""

    NONE = 0
    WATCHDOG = 101  # no fresh command within the watchdog time: the table released itself
    DRIVE = 201  # drive or controller board error
    SENSOR = 202  # the sensors could not be sampled
    OVERLOAD = 301  # load cell above full scale: released
    TRAVEL = 302  # end of cable travel: released


FAULT_TEXT: dict[int, str] = {
    FaultCode.WATCHDOG: "command watchdog expired, the table released on its own",
    FaultCode.DRIVE: "drive error",
    FaultCode.SENSOR: "sensor sampling failure",
    FaultCode.OVERLOAD: "load cell overload, released",
    FaultCode.TRAVEL: "end of cable travel, released",
}
FAULT_CLASS = {1: "general", 2: "internal", 3: "critical"}


def fault_describe(code: int) -> str:
    """'301 (critical): load cell overload, released' for the fault register's value."""
    cls = FAULT_CLASS.get(code // 100, "unknown class")
    return f"{code} ({cls}): {FAULT_TEXT.get(code, 'unknown fault code')}"


# Modbus exception codes the table answers with [modbus-app] and what they mean here.
EXC_ILLEGAL_ADDRESS = 0x02  # outside the map, or a write to a read-only register
EXC_ILLEGAL_VALUE = 0x03  # setpoint above the table's limit, unknown flag or control value
EXC_DEVICE_FAILURE = 0x04  # the table cannot serve the request (internal failure)
EXC_DEVICE_BUSY = 0x06  # a command while the table is not active (SAF-9: refused)
EXCEPTION_TEXT = {
    0x01: "illegal function",
    EXC_ILLEGAL_ADDRESS: "illegal data address",
    EXC_ILLEGAL_VALUE: "illegal data value",
    EXC_DEVICE_FAILURE: "server device failure",
    0x05: "acknowledge",
    EXC_DEVICE_BUSY: "server device busy",
    0x0B: "gateway target device failed to respond",
}


# --- value conversions ------------------------------------------------------------------------
def s16(reg: int) -> int:
    return reg - 0x10000 if reg & 0x8000 else reg


def u16_of_s16(value: int) -> int:
    return value & U16


def _clip(x: float, lo: int, hi: int) -> int:
    if not math.isfinite(x):
        raise ValueError(f"not a finite value: {x!r}")
    return max(lo, min(hi, round(x)))


def s32_regs(value: int) -> tuple[int, int]:
    v = value & 0xFFFF_FFFF
    return (v >> 16) & U16, v & U16


def s32(hi: int, lo: int) -> int:
    v = (hi << 16) | lo
    return v - 0x1_0000_0000 if v & 0x8000_0000 else v


def force_reg(force_n: float) -> int:
    """A measured force as the signed load-cell register (saturates at the register's range)."""
    return u16_of_s16(_clip(force_n / FORCE_LSB_N, S16_MIN, S16_MAX))


def force_of(reg: int) -> float:
    return round(s16(reg) * FORCE_LSB_N, 1)


def setpoint_reg(force_n: float) -> int:
    """A commanded force (>= 0) as an unsigned register; refuses what it cannot carry."""
    if not math.isfinite(force_n) or force_n < 0.0:
        raise ValueError(f"a setpoint must be a finite force >= 0 N, got {force_n!r}")
    counts = round(force_n / FORCE_LSB_N)
    if counts > U16:
        raise ValueError(f"setpoint {force_n} N beyond the register's range")
    return counts


def setpoint_of(reg: int) -> float:
    return round(reg * FORCE_LSB_N, 1)


def winch_regs(winch_mm: float) -> tuple[int, int]:
    return s32_regs(_clip(winch_mm / WINCH_LSB_MM, S32_MIN, S32_MAX))


def winch_of(hi: int, lo: int) -> float:
    return round(s32(hi, lo) * WINCH_LSB_MM, 2)


def emg_regs(block_uv: Iterable[float]) -> list[int]:
    """Raw sEMG samples (uV) as signed registers, saturating at +/-6553 uV."""
    return [u16_of_s16(_clip(float(x) / EMG_LSB_UV, S16_MIN, S16_MAX)) for x in block_uv]


def emg_of(regs: list[int]) -> list[float]:
    return [s16(r) * EMG_LSB_UV for r in regs]


def text_regs(text: str) -> list[int]:
    """Up to 16 ASCII characters, two per register, NUL padded."""
    raw = text.encode("ascii", "replace")[: 2 * TEXT_REGS].ljust(2 * TEXT_REGS, b"\0")
    return [(raw[i] << 8) | raw[i + 1] for i in range(0, len(raw), 2)]


def text_of(regs: list[int]) -> str:
    raw = b"".join(bytes(((r >> 8) & 0xFF, r & 0xFF)) for r in regs)
    return raw.split(b"\0", 1)[0].decode("ascii", "replace")


# --- blocks -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TableIdentity:
    """What a table says about itself: who it is and what it can and may do."""

    vendor: str
    model: str
    serial: str
    firmware: int
    simulated: bool
    emg: bool
    patient_switch: bool
    max_force_n: float  # the table's own rated force limit; it refuses setpoints above
    full_scale_n: float  # load-cell full scale
    travel_mm: float
    max_speed_mm_s: float
    watchdog_s: float  # the table's command watchdog
    emg_rate_hz: int
    map_version: int = MAP_VERSION

    def as_dict(self) -> dict[str, object]:
        return {
            "vendor": self.vendor,
            "model": self.model,
            "serial": self.serial,
            "firmware": f"{self.firmware >> 8}.{self.firmware & 0xFF}",
            "simulated": self.simulated,
            "emg": self.emg,
            "patient_switch": self.patient_switch,
            "max_force_n": self.max_force_n,
            "full_scale_n": self.full_scale_n,
            "travel_mm": self.travel_mm,
            "max_speed_mm_s": self.max_speed_mm_s,
            "watchdog_ms": round(self.watchdog_s * 1000),
            "emg_rate_hz": self.emg_rate_hz,
            "map_version": self.map_version,
        }


def identity_regs(ident: TableIdentity) -> list[int]:
    caps = (
        (CAP_SIMULATED if ident.simulated else 0)
        | (CAP_EMG if ident.emg else 0)
        | (CAP_PATIENT_SWITCH if ident.patient_switch else 0)
    )
    regs = [
        ident.map_version,
        caps,
        setpoint_reg(ident.max_force_n),
        setpoint_reg(ident.full_scale_n),
        _clip(ident.travel_mm / TRAVEL_LSB_MM, 0, U16),
        _clip(ident.max_speed_mm_s / SPEED_LSB_MM_S, 0, U16),
        _clip(ident.watchdog_s * 1000.0, 0, U16),
        _clip(ident.emg_rate_hz, 0, U16),
        ident.firmware & U16,
        *text_regs(ident.vendor),
        *text_regs(ident.model),
        *text_regs(ident.serial),
    ]
    assert len(regs) == IDENTITY_LEN
    return regs


def identity_of(regs: list[int]) -> TableIdentity:
    """Decode the identity block; a map version this driver does not speak is refused."""
    if len(regs) != IDENTITY_LEN:
        raise ValueError(f"identity block of {len(regs)} registers, expected {IDENTITY_LEN}")
    if regs[ID_VERSION] != MAP_VERSION:
        raise ValueError(
            f"register map version {regs[ID_VERSION]}, this driver speaks {MAP_VERSION}"
        )
    caps = regs[ID_CAPS]
    return TableIdentity(
        vendor=text_of(regs[ID_VENDOR : ID_VENDOR + TEXT_REGS]),
        model=text_of(regs[ID_MODEL : ID_MODEL + TEXT_REGS]),
        serial=text_of(regs[ID_SERIAL : ID_SERIAL + TEXT_REGS]),
        firmware=regs[ID_FIRMWARE],
        simulated=bool(caps & CAP_SIMULATED),
        emg=bool(caps & CAP_EMG),
        patient_switch=bool(caps & CAP_PATIENT_SWITCH),
        max_force_n=setpoint_of(regs[ID_MAX_FORCE]),
        full_scale_n=setpoint_of(regs[ID_FULL_SCALE]),
        travel_mm=round(regs[ID_TRAVEL] * TRAVEL_LSB_MM, 1),
        max_speed_mm_s=round(regs[ID_MAX_SPEED] * SPEED_LSB_MM_S, 1),
        watchdog_s=regs[ID_WATCHDOG_MS] / 1000.0,
        emg_rate_hz=regs[ID_EMG_RATE],
        map_version=regs[ID_VERSION],
    )


@dataclass(frozen=True, slots=True)
class Status:
    """One decoded status block."""

    seq: int
    state: DeviceState
    fault_code: int
    stop_pressed: bool
    watchdog_expired: bool
    force_n: float
    winch_mm: float
    emg_envelope_uv: float
    cmd_ack: int
    drive_setpoint_n: float
    emg_uv: list[float] | None


def status_regs(
    *,
    seq: int,
    state: DeviceState,
    fault_code: int,
    stop_pressed: bool,
    watchdog_expired: bool,
    force_n: float,
    winch_mm: float,
    emg_envelope_uv: float,
    cmd_ack: int,
    drive_setpoint_n: float,
    emg_uv: Iterable[float] | None,
) -> list[int]:
    """The status block the table serves (with the EMG part zero when there is no block)."""
    flags = (
        (FLAG_STOP if stop_pressed else 0)
        | (FLAG_WATCHDOG if watchdog_expired else 0)
        | (FLAG_EMG if emg_uv is not None else 0)
    )
    hi, lo = winch_regs(winch_mm)
    regs = [
        seq & U16,
        STATE_CODES[state],
        fault_code & U16,
        flags,
        force_reg(force_n),
        hi,
        lo,
        _clip(emg_envelope_uv / EMG_ENV_LSB_UV, 0, U16),
        cmd_ack & U16,
        _clip(max(0.0, drive_setpoint_n) / FORCE_LSB_N, 0, U16),
    ]
    regs += emg_regs(emg_uv) if emg_uv is not None else [0] * EMG_BLOCK
    assert len(regs) == STATUS_LEN
    return regs


def status_of(regs: list[int]) -> Status:
    """Decode a status block (the fixed part, or the fixed part and the EMG block).

    An unknown state code is an error (the table and the driver disagree on the map); values
    out of a sensor's range are passed on as they are, for the safety policy to judge.
    """
    if len(regs) not in (STATUS_FIXED_LEN, STATUS_LEN):
        raise ValueError(f"status block of {len(regs)} registers")
    code = regs[STATUS_STATE]
    state = CODE_STATES.get(code)
    if state is None:
        raise ValueError(f"state register holds {code}, no state of map version {MAP_VERSION}")
    flags = regs[STATUS_FLAGS]
    emg = None
    if len(regs) == STATUS_LEN and flags & FLAG_EMG:
        emg = emg_of(regs[STATUS_EMG:STATUS_LEN])
    return Status(
        seq=regs[STATUS_SEQ],
        state=state,
        fault_code=regs[STATUS_FAULT],
        stop_pressed=bool(flags & FLAG_STOP),
        watchdog_expired=bool(flags & FLAG_WATCHDOG),
        force_n=force_of(regs[STATUS_FORCE]),
        winch_mm=winch_of(regs[STATUS_WINCH], regs[STATUS_WINCH + 1]),
        emg_envelope_uv=round(regs[STATUS_EMG_ENV] * EMG_ENV_LSB_UV, 1),
        cmd_ack=regs[STATUS_CMD_ACK],
        drive_setpoint_n=setpoint_of(regs[STATUS_DRIVE_SETPOINT]),
        emg_uv=emg,
    )


def command_regs(seq: int, force_n: float, base_n: float, release: bool) -> list[int]:
    return [
        seq & U16,
        setpoint_reg(force_n),
        setpoint_reg(base_n),
        CMDF_RELEASE if release else 0,
    ]


@dataclass(frozen=True, slots=True)
class CommandRegs:
    seq: int
    force_n: float
    base_n: float
    release: bool


def command_of(regs: list[int]) -> CommandRegs:
    if len(regs) != COMMAND_LEN:
        raise ValueError(f"command block of {len(regs)} registers, expected {COMMAND_LEN}")
    if regs[CMD_FLAGS] & ~CMDF_KNOWN:
        raise ValueError(f"unknown command flags {regs[CMD_FLAGS]:#06x}")
    return CommandRegs(
        seq=regs[CMD_SEQ],
        force_n=setpoint_of(regs[CMD_FORCE]),
        base_n=setpoint_of(regs[CMD_BASE]),
        release=bool(regs[CMD_FLAGS] & CMDF_RELEASE),
    )


def seq_newer(a: int, b: int) -> int:
    """How far 16-bit sequence ``a`` is ahead of ``b`` (0..65535, wrapping)."""
    return (a - b) & U16
