"""The simulated table as a Device: drive, watchdog, release, reflexes, guarding, faults, EMG."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from spinecare.devices.base import Device, DeviceNotActiveError
from spinecare.devices.simulated import SimulatedTable
from spinecare.quantities import DEVICE_MAX_FORCE_N
from spinecare.sim import Fault, InjectedFault, PatientParams, virtual_patient
from spinecare.vocab import Command, DeviceState, TableType

TICK = 0.02


def calm(seed: int = 3, region: str = "lumbar", weight: float = 80.0, **kw: float) -> PatientParams:
    """A patient without pain guarding or spontaneous events, unless asked for."""
    p = virtual_patient(seed, region=region, weight_kg=weight)
    fields = {"pain_tolerance_n": 1e9, "spontaneous_per_min": 0.0}
    fields.update(kw)
    return dataclasses.replace(p, **fields)


def active(p: PatientParams, **kw: object) -> SimulatedTable:
    t = SimulatedTable(p, **kw)  # type: ignore[arg-type]
    t.configure()
    t.activate()
    return t


def tick(t: SimulatedTable, force: float, base: float, release: bool = False) -> None:
    t.advance(TICK)
    r = t.read()
    t.write(Command(r.t_s, force, base, release=release))


def ramp(t: SimulatedTable, f0: float, f1: float, rate: float, base: float) -> list[float]:
    """Ramp the command; returns true force - setpoint per tick."""
    f, errs = f0, []
    n = int(abs(f1 - f0) / (rate * TICK)) + 1
    for _ in range(n):
        f = min(f + rate * TICK, f1) if f1 > f0 else max(f - rate * TICK, f1)
        tick(t, f, base)
        errs.append(t.true_harness_force_n - f)
    return errs


def hold(t: SimulatedTable, force: float, base: float, seconds: float) -> None:
    for _ in range(round(seconds / TICK)):
        tick(t, force, base)


def test_is_a_device_and_lifecycle() -> None:
    t = SimulatedTable(calm())
    assert isinstance(t, Device)
    assert t.simulated is True
    assert t.state is DeviceState.UNCONFIGURED
    with pytest.raises(DeviceNotActiveError):
        t.write(Command(0.0, 10.0, 5.0))
    t.configure()
    with pytest.raises(DeviceNotActiveError):
        t.write(Command(0.0, 10.0, 5.0))
    t.activate()
    t.advance(TICK)
    r = t.read()
    assert r.state is DeviceState.ACTIVE and r.seq == 1 and r.t_s == pytest.approx(TICK)
    assert r.emg_uv is None
    t.write(Command(r.t_s, 10.0, 5.0))
    t.deactivate()
    assert t.state is DeviceState.INACTIVE
    with pytest.raises(DeviceNotActiveError):
        t.write(Command(0.0, 10.0, 5.0))


@pytest.mark.parametrize(
    ("region", "rate", "peak"), [("lumbar", 15.0, 300.0), ("cervical", 4.0, 80.0)]
)
@pytest.mark.parametrize("weight", [45.0, 140.0])
@pytest.mark.parametrize("table", [TableType.SPLIT, TableType.FIXED])
def test_drive_tracks_ramps_and_steps_back(
    region: str, rate: float, peak: float, weight: float, table: TableType
) -> None:
    t = active(calm(region=region, weight=weight), table=table)
    errs = np.array(ramp(t, 0.0, peak, rate, peak / 2))
    assert np.abs(errs[50:]).max() < 3.0  # within a few newtons after the first second
    hold(t, peak, peak / 2, 2.0)
    for _ in range(round(1.0 / TICK)):  # step back to base: done within 1 s
        tick(t, peak / 2, peak / 2)
    assert abs(t.true_harness_force_n - peak / 2) < 3.0
    assert not [e for e in t.truth.events if e.kind == "reflex"]  # slow ramps: no reflex


@pytest.mark.parametrize("region", ["lumbar", "cervical"])
@pytest.mark.parametrize("weight", [45.0, 140.0])
def test_release_from_device_max_within_2_s(region: str, weight: float) -> None:
    t = active(calm(region=region, weight=weight))
    ramp(t, 0.0, DEVICE_MAX_FORCE_N, 100.0, 0.0)
    hold(t, DEVICE_MAX_FORCE_N, 0.0, 1.0)
    assert t.true_harness_force_n > DEVICE_MAX_FORCE_N - 10.0
    for _ in range(round(2.0 / TICK)):
        tick(t, 0.0, 0.0, release=True)
    assert t.true_harness_force_n < 1.0
    assert t.state is DeviceState.ACTIVE


def test_watchdog_releases_to_base_then_zero_and_refuses_writes() -> None:
    t = active(calm())
    ramp(t, 0.0, 300.0, 15.0, 150.0)
    hold(t, 300.0, 150.0, 1.0)
    last_write = t.time_s
    for _ in range(5):  # 5 missed ticks = 100 ms: not yet
        t.advance(TICK)
    assert t.state is DeviceState.ACTIVE
    t.advance(TICK)
    assert t.state is DeviceState.RELEASING
    fired = t.truth.watchdog_s[0]
    assert 0.1 < fired - last_write <= 0.1 + TICK
    with pytest.raises(DeviceNotActiveError):
        t.write(Command(t.time_s, 300.0, 150.0))
    t.advance(fired + 1.0 - t.time_s)
    assert abs(t.true_harness_force_n - 150.0) < 3.0  # at base within 1 s
    t.advance(0.9)
    assert abs(t.true_harness_force_n - 150.0) < 3.0  # held for 1 s
    assert t.read().state is DeviceState.RELEASING
    t.advance(2.1)
    assert t.true_harness_force_n < 1.0  # zero within 2 s after the hold
    with pytest.raises(DeviceNotActiveError):
        t.write(Command(t.time_s, 10.0, 5.0))
    t.activate()
    tick(t, 20.0, 10.0)
    hold(t, 20.0, 10.0, 1.0)
    assert abs(t.true_harness_force_n - 20.0) < 2.0


def test_reproducible_from_seed() -> None:
    def run(seed: int) -> tuple[list[float], list[object]]:
        p = dataclasses.replace(virtual_patient(seed), spontaneous_per_min=3.0)
        t = active(p, emg=True)
        forces = []
        for i in range(1500):
            t.advance(TICK)
            r = t.read()
            forces.append(r.force_n)
            f = min(0.25 * i, 0.3 * p.body_weight_n)
            t.write(Command(r.t_s, f, f / 2))
        return forces, list(t.truth.events)

    a, b, c = run(9), run(9), run(10)
    assert a == b
    assert a[0] != c[0] or a != c
    assert a[1]  # spontaneous events happened


def test_fast_ramp_triggers_reflex_with_latency() -> None:
    p = calm(muscle_relax_tau_s=0.2)
    t = active(p)
    ramp(t, 0.0, 150.0, 15.0, 75.0)
    hold(t, 150.0, 75.0, 2.0)
    jump_at = t.time_s
    hold(t, 250.0, 75.0, 2.0)  # a 100 N jump
    reflexes = t.truth.events_of("reflex")
    assert len(reflexes) == 1
    ev = reflexes[0]
    assert jump_at <= ev.trigger_s <= jump_at + 0.05
    assert 0.048 - 1e-9 <= ev.onset_s - ev.trigger_s <= 0.070 + 1e-9
    assert ev.measurable_s is not None and ev.measurable_s > ev.onset_s
    assert ev.end_s is not None and ev.end_s > ev.measurable_s
    assert 0.25 * p.reflex_amplitude * p.muscle_max_n < ev.peak_force_n
    assert ev.peak_force_n <= p.reflex_amplitude * p.muscle_max_n + 1e-6


@pytest.mark.parametrize(
    ("region", "tol", "hi", "lo"), [("lumbar", 200.0, 240.0, 120.0), ("cervical", 50.0, 60.0, 30.0)]
)
def test_force_above_tolerance_triggers_sustained_guarding(
    region: str, tol: float, hi: float, lo: float
) -> None:
    p = calm(region=region, pain_tolerance_n=tol, pain_hysteresis_n=0.05 * tol)
    t = active(p)
    ramp(t, 0.0, hi, 15.0 if region == "lumbar" else 4.0, lo)
    hold(t, hi, lo, 5.0)
    arr = t.truth.as_arrays()
    crossed = float(arr["t_s"][np.argmax(arr["harness_force_n"] > tol)])
    pain = t.truth.events_of("pain")
    assert len(pain) == 1 and pain[0].end_s is None  # persists while the force stays high
    assert pain[0].trigger_s == pytest.approx(crossed, abs=TICK)
    assert pain[0].onset_s - pain[0].trigger_s == pytest.approx(p.pain_delay_s, abs=0.002)
    assert pain[0].measurable_s is not None
    # The counter-tension matters: tens of newtons lumbar, several cervical.
    assert t.true_muscle_contribution_n > (20.0 if region == "lumbar" else 3.0)
    ramp(t, hi, lo, 30.0, lo)
    hold(t, lo, lo, 3.0)
    pain = t.truth.events_of("pain")
    assert len(pain) == 1 and pain[0].end_s is not None
    assert t.true_muscle_force_n < 0.05 * pain[0].peak_force_n


def test_spontaneous_events_follow_their_ranges() -> None:
    p = calm(spontaneous_per_min=6.0)
    t = active(p, seed=1)
    ramp(t, 0.0, 150.0, 15.0, 75.0)
    hold(t, 150.0, 75.0, 240.0)
    spont = [e for e in t.truth.events_of("spontaneous") if e.end_s is not None]
    assert 10 <= len(spont) <= 45
    for e in spont:
        assert e.peak_force_n <= 0.6 * p.muscle_max_n + 1e-6
        assert e.end_s - e.onset_s >= 0.3  # type: ignore[operator]
    assert max(e.peak_force_n for e in spont) > 0.3 * p.muscle_max_n


def _faulty(fault: Fault) -> SimulatedTable:
    t = active(calm(), faults=[fault])
    ramp(t, 0.0, 100.0, 15.0, 50.0)
    return t


def test_dropout_repeats_the_previous_reading() -> None:
    t = _faulty(Fault(InjectedFault.DROPOUT, at_s=7.0, duration_s=0.2))
    hold(t, 100.0, 50.0, 7.0 - t.time_s - 1e-9)
    before = t.read()
    for _ in range(9):
        t.advance(TICK)
        assert t.read() is before
    t.advance(TICK * 2)
    after = t.read()
    assert after.seq == before.seq + 1 and after.t_s > before.t_s
    assert t.truth.faults[0].kind is InjectedFault.DROPOUT
    assert t.truth.faults[0].began_s == pytest.approx(7.0)


def test_stuck_load_cell_freezes_force() -> None:
    t = _faulty(Fault(InjectedFault.STUCK_LOAD_CELL, at_s=7.5, duration_s=1.0))
    seen = []
    for _ in range(100):
        tick(t, min(100.0 + 15.0 * (t.time_s - 6.7), 200.0), 50.0)
        seen.append((t.time_s, t._last.force_n))  # type: ignore[union-attr]
    frozen = {f for ts, f in seen if 7.5 <= ts < 8.5}
    assert len(frozen) == 1
    assert len({f for ts, f in seen if ts >= 8.5}) > 5


def test_force_spike_is_one_sample() -> None:
    t = _faulty(Fault(InjectedFault.FORCE_SPIKE, at_s=7.0, magnitude=200.0))
    resid = []
    for _ in range(60):
        t.advance(TICK)
        r = t.read()
        resid.append(r.force_n - t.true_harness_force_n)
        t.write(Command(r.t_s, 100.0, 50.0))
    big = [x for x in resid if abs(x) > 20.0]
    assert len(big) == 1 and big[0] == pytest.approx(200.0, abs=10.0)


def test_encoder_jump_offsets_reading_only() -> None:
    t = _faulty(Fault(InjectedFault.ENCODER_JUMP, at_s=7.0, duration_s=float("inf"), magnitude=5.0))
    hold(t, 100.0, 50.0, 7.0 - t.time_s + 0.1)
    r = t.read()
    assert r.winch_mm - t.true_winch_mm == pytest.approx(5.0, abs=0.01)
    assert abs(t.true_harness_force_n - 100.0) < 3.0  # nothing moved physically


def test_harness_slip_drops_force_while_encoder_continues() -> None:
    t = _faulty(Fault(InjectedFault.HARNESS_SLIP, at_s=7.0, magnitude=4.0))
    hold(t, 100.0, 50.0, 7.0 - t.time_s - 1e-9)
    x0 = t.read().winch_mm
    t.advance(0.005)
    assert t.true_harness_force_n < 100.0 - 40.0  # sudden drop
    hold(t, 100.0, 50.0, 3.0)  # the jerk of the re-tensioning may set off a reflex
    assert t.read().winch_mm > x0 + 3.0  # the drive draws cable to restore the force
    assert abs(t.true_harness_force_n - 100.0) < 3.0
    assert t.truth.faults[0].began_s == pytest.approx(7.0)


def test_actuator_stall_freezes_the_winch() -> None:
    t = _faulty(Fault(InjectedFault.ACTUATOR_STALL, at_s=7.0, duration_s=1.0))
    hold(t, 100.0, 50.0, 7.02 - t.time_s)
    assert t.time_s > 7.0
    x0 = t.true_winch_mm
    ramp(t, 100.0, 150.0, 100.0, 50.0)
    hold(t, 150.0, 50.0, 7.9 - t.time_s)
    assert t.true_winch_mm == x0
    assert t.true_harness_force_n < 110.0
    hold(t, 150.0, 50.0, 3.0)  # the catch-up jerk may set off a reflex first
    assert abs(t.true_harness_force_n - 150.0) < 3.0


def test_stop_button_scheduled_and_now() -> None:
    t = active(calm())
    t.press_stop(at_s=0.1)
    t.advance(0.08)
    assert not t.read().stop_pressed
    t.advance(0.04)
    assert t.read().stop_pressed
    t.clear_stop()
    t.advance(TICK)
    assert not t.read().stop_pressed
    t.press_stop()
    assert t.read().stop_pressed


def test_sensor_resolution() -> None:
    t = active(calm())
    ramp(t, 0.0, 100.0, 15.0, 50.0)
    for _ in range(20):
        tick(t, 100.0, 50.0)
        r = t.read()
        assert round(r.force_n * 10) == pytest.approx(r.force_n * 10, abs=1e-6)
        assert round(r.winch_mm * 100) == pytest.approx(r.winch_mm * 100, abs=1e-6)


def test_emg_blocks_and_rms_scale_with_activation() -> None:
    p = calm(pain_tolerance_n=200.0, pain_hysteresis_n=10.0)
    t = active(p, emg=True)
    rest, guarding = [], []
    f = 0.0
    for _ in range(round(25.0 / TICK)):
        t.advance(TICK)
        r = t.read()
        assert r.emg_uv is not None and r.emg_uv.shape == (20,) and r.emg_uv.dtype == np.float64
        if 2.0 < r.t_s < 10.0:
            rest.append(r.emg_uv)
        elif r.t_s > 20.0:
            guarding.append((t.true_activation, r.emg_uv))
        f = min(f + 0.3, 150.0) if r.t_s < 15.0 else 240.0
        t.write(Command(r.t_s, f, 75.0))
    rms_rest = float(np.sqrt(np.mean(np.concatenate(rest) ** 2)))
    expect_rest = np.sqrt(p.emg_baseline_uv**2 + p.emg_mains_uv**2 / 2)
    assert rms_rest == pytest.approx(expect_rest, rel=0.15)
    a = float(np.mean([g[0] for g in guarding]))
    assert a == pytest.approx(p.pain_amplitude, rel=0.05)
    rms_g = float(np.sqrt(np.mean(np.concatenate([g[1] for g in guarding]) ** 2)))
    expect_g = np.sqrt((p.emg_gain_uv * a) ** 2 + expect_rest**2)
    assert rms_g == pytest.approx(expect_g, rel=0.15)
