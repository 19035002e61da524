"""The register map: what the table encodes, the driver decodes, without loss where the table's
own resolution is coarser than the register's; codes and limits as docs/modbus.md states."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spinecare.devices import modbus_map as mm
from spinecare.devices.modbus_sim import sim_identity
from spinecare.quantities import DEVICE_MAX_FORCE_N
from spinecare.vocab import EMG_BLOCK, DeviceState

forces = st.integers(-500, 15000).map(lambda c: c / 10)  # the load cell's 0.1 N steps
winches = st.integers(-500, 40000).map(lambda c: c / 100)  # the encoder's 0.01 mm steps


@given(
    seq=st.integers(0, 0xFFFF),
    state=st.sampled_from(list(DeviceState)),
    fault=st.sampled_from(list(mm.FaultCode)),
    stop=st.booleans(),
    wd=st.booleans(),
    force=forces,
    winch=winches,
    ack=st.integers(0, 0xFFFF),
    emg=st.none() | st.lists(st.floats(-6000, 6000), min_size=EMG_BLOCK, max_size=EMG_BLOCK),
)
def test_status_block_round_trips(
    seq: int,
    state: DeviceState,
    fault: int,
    stop: bool,
    wd: bool,
    force: float,
    winch: float,
    ack: int,
    emg: list[float] | None,
) -> None:
    regs = mm.status_regs(
        seq=seq, state=state, fault_code=fault, stop_pressed=stop, watchdog_expired=wd,
        force_n=force, winch_mm=winch, emg_envelope_uv=12.34, cmd_ack=ack,
        drive_setpoint_n=200.0, emg_uv=emg,
    )  # fmt: skip
    assert len(regs) == mm.STATUS_LEN and all(0 <= r <= 0xFFFF for r in regs)
    s = mm.status_of(regs)
    assert (s.seq, s.state, s.fault_code, s.stop_pressed, s.watchdog_expired, s.cmd_ack) == (
        seq, state, fault, stop, wd, ack,
    )  # fmt: skip
    # The simulated sensors' own resolution survives the wire exactly.
    assert s.force_n == force
    assert s.winch_mm == winch
    assert s.emg_envelope_uv == 12.3
    if emg is None:
        assert s.emg_uv is None
    else:
        assert s.emg_uv is not None
        worst = max(abs(a - b) for a, b in zip(s.emg_uv, emg, strict=True))
        assert worst <= mm.EMG_LSB_UV / 2 + 1e-9
    # Without the EMG part (a session that does not use it reads only the fixed part).
    assert mm.status_of(regs[: mm.STATUS_FIXED_LEN]).emg_uv is None


def test_implausible_values_are_passed_on_for_the_policy() -> None:
    regs = mm.status_regs(
        seq=1, state=DeviceState.ACTIVE, fault_code=0, stop_pressed=False,
        watchdog_expired=False, force_n=0.0, winch_mm=0.0, emg_envelope_uv=0.0, cmd_ack=0,
        drive_setpoint_n=0.0, emg_uv=None,
    )  # fmt: skip
    regs[mm.STATUS_FORCE] = 0x7FFF
    assert mm.status_of(regs).force_n == 3276.7  # beyond the load cell's 1500 N: SAF-8 judges
    regs[mm.STATUS_STATE] = 99
    with pytest.raises(ValueError, match="state register holds 99"):
        mm.status_of(regs)


@given(
    seq=st.integers(0, 0xFFFF),
    force=st.integers(0, 8900).map(lambda c: c / 10),
    base=st.integers(0, 8900).map(lambda c: c / 10),
    release=st.booleans(),
)
def test_command_block_round_trips(seq: int, force: float, base: float, release: bool) -> None:
    c = mm.command_of(mm.command_regs(seq, force, base, release))
    assert (c.seq, c.force_n, c.base_n, c.release) == (seq, force, base, release)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), 7000.0])
def test_a_setpoint_the_register_cannot_carry_is_refused(bad: float) -> None:
    with pytest.raises(ValueError):
        mm.setpoint_reg(bad)


def test_unknown_command_flags_are_refused() -> None:
    regs = mm.command_regs(1, 100.0, 50.0, False)
    regs[mm.CMD_FLAGS] = 0x8000
    with pytest.raises(ValueError, match="unknown command flags"):
        mm.command_of(regs)


def test_identity_round_trips_and_a_foreign_map_version_is_refused() -> None:
    ident = sim_identity(emg=True, serial="SIM-42", max_force_n=612.5)
    regs = mm.identity_regs(ident)
    assert len(regs) == mm.IDENTITY_LEN
    assert mm.identity_of(regs) == ident
    assert ident.max_force_n == 612.5 and ident.watchdog_s == 0.1
    regs[mm.ID_VERSION] = 2
    with pytest.raises(ValueError, match="register map version 2"):
        mm.identity_of(regs)


def test_default_limit_is_the_device_constant() -> None:
    assert sim_identity(emg=False, serial="x").max_force_n == DEVICE_MAX_FORCE_N


@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=16))
def test_text_registers_round_trip(text: str) -> None:
    assert mm.text_of(mm.text_regs(text)) == text


@given(a=st.integers(0, 0xFFFF), d=st.integers(0, 0x7FFF))
def test_sequence_distance_wraps(a: int, d: int) -> None:
    assert mm.seq_newer((a + d) & 0xFFFF, a) == d


def test_blocks_do_not_overlap() -> None:
    spans = [
        (mm.STATUS_ADDR, mm.STATUS_LEN),
        (mm.IDENTITY_ADDR, mm.IDENTITY_LEN),
        (mm.COMMAND_ADDR, mm.COMMAND_LEN),
        (mm.CONTROL_ADDR, 1),
    ]
    for (a, n), (b, _) in itertools.pairwise(spans):
        assert a + n <= b
    # One request carries a whole block (Modbus: at most 125 registers per read [modbus-app]).
    assert max(n for _, n in spans) <= 125


def test_fault_codes_name_their_class() -> None:
    assert mm.fault_describe(301) == "301 (critical): load cell overload, released"
    assert mm.fault_describe(101).startswith("101 (general): command watchdog")
    assert "unknown" in mm.fault_describe(999)
