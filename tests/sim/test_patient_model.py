"""The physics kernel: numba and pure Python agree; creep follows Bridger 1990."""

from __future__ import annotations

import dataclasses

import numpy as np

from spinecare.devices.simulated import SimulatedTable
from spinecare.sim import patient_model as pm
from spinecare.sim import virtual_patient
from spinecare.sim.patient_model import G
from spinecare.vocab import Command


def _scenario_inputs(emg: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p = dataclasses.replace(
        virtual_patient(11, region="lumbar", weight_kg=75.0), pain_tolerance_n=220.0
    )
    params = pm.pack_params(
        p,
        fixed_table=False,
        emg=emg,
        latencies_s=np.full(pm.LATENCY_POOL, 0.055),
        mains_phase=0.3,
    )
    noise = np.random.default_rng(0).standard_normal(20_000)
    return params, pm.initial_state(), noise


def test_numba_and_python_agree() -> None:
    """Same model, two engines: a ramp, a jump (reflex), pain guarding, a spontaneous burst,
    a stall and a slip, with EMG on, over 4.5 s."""
    params, s0, noise = _scenario_inputs(emg=True)
    runs = []
    for engine in (pm.advance_numba, pm.advance_python):
        s = s0.copy()
        ev = pm.new_event_log()
        ring = np.zeros(1000)
        trace = []
        for tick in range(225):
            t = tick * 0.02
            s[pm.S_TGT] = min(15.0 * 10 * t, 150.0) if t < 1.5 else 260.0  # fast ramp, jump
            s[pm.S_US] = 0.4 if 2.5 <= t < 3.0 else 0.0
            s[pm.S_STALL] = 1.0 if 3.2 <= t < 3.5 else 0.0
            if tick == 200:
                s[pm.S_SLIP] += 3.0
            engine(s, params, 20, noise, ev, ring)
            trace.append(s.copy())
        runs.append((np.array(trace), ev.copy(), ring.copy()))
    (ta, eva, ra), (tb, evb, rb) = runs
    np.testing.assert_allclose(ta, tb, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(eva, evb, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ra, rb, rtol=1e-9, atol=1e-9)
    # The scenario did exercise the muscles (reflex and pain both fired).
    kinds = {int(eva[i * pm.EVENT_COLS]) for i in range(int(ta[-1, pm.S_EVN]))}
    assert {pm.KIND_REFLEX, pm.KIND_SPONTANEOUS} <= kinds
    assert ta[-1, pm.S_EV + pm.KIND_PAIN * pm.EV_W] > 0.5  # pain guarding still going on


def _hold(table: SimulatedTable, force_n: float, seconds: float) -> None:
    cmd = Command(0.0, force_n, force_n / 2)
    for _ in range(round(seconds / 0.02)):
        table.advance(0.02)
        table.write(cmd)


def test_creep_follows_bridger() -> None:
    """Holding 1/3 BW for 25 min lengthens the lumbar spine by several mm, mostly in the first
    15 min (Bridger 1990: +8.9 mm after 25 min at 1/3 BW)."""
    p = dataclasses.replace(
        virtual_patient(5, region="lumbar", weight_kg=75.0),
        pain_tolerance_n=1e9,
        spontaneous_per_min=0.0,
    )
    table = SimulatedTable(p, spontaneous=False, record=False)
    table.configure()
    table.activate()
    dose = p.weight_kg * G / 3.0
    cmd_f = 0.0
    while cmd_f < dose:  # 15 N/s ramp (therapy/protocol.py)
        cmd_f = min(cmd_f + 0.3, dose)
        table.advance(0.02)
        table.write(Command(0.0, cmd_f, cmd_f / 2))
    _hold(table, dose, 5.0)
    start = table.true_elongation_mm
    _hold(table, dose, 5 * 60.0)
    at5 = table.true_elongation_mm - start
    _hold(table, dose, 10 * 60.0)
    at15 = table.true_elongation_mm - start
    _hold(table, dose, 10 * 60.0)
    at25 = table.true_elongation_mm - start
    assert 5.0 <= at25 <= 12.0
    assert at15 >= 0.8 * at25
    assert at5 >= 0.4 * at25
    assert at5 / 5 > (at25 - at15) / 10  # fastest early


def test_emg_leads_force_by_the_electromechanical_delay() -> None:
    params, s, noise = _scenario_inputs(emg=True)
    emd_steps = int(params[pm.P_EMD_STEPS])
    ev = pm.new_event_log()
    ring = np.zeros(1000)
    s[pm.S_TGT] = 100.0
    pm.advance_numba(s, params, 3000, noise, ev, ring)
    emg, act, fmus = [], [], []
    for k in range(1500):
        s[pm.S_US] = 0.5 if 300 <= k < 1000 else 0.0
        pm.advance_numba(s, params, 1, noise, ev, ring)
        emg.append(ring[int(s[pm.S_EMGW]) - 1])
        act.append(min(1.0, s[pm.S_A] + s[pm.S_A + 1] + s[pm.S_A + 2]))
        fmus.append(s[pm.S_FMUS])
    a = np.array(act)
    # Muscle force is the activation delayed by the EMD; the EMG follows the undelayed one.
    np.testing.assert_allclose(np.array(fmus)[emd_steps:], params[pm.P_FMAX] * a[:-emd_steps])
    env = np.convolve(np.square(emg), np.ones(25) / 25, "same")
    lags = range(-40, 41)
    corr = [
        np.corrcoef(env[100:1400], np.roll(np.array(fmus), -lag)[100:1400])[0, 1] for lag in lags
    ]
    best = list(lags)[int(np.argmax(corr))]
    assert abs(best - emd_steps) <= 8  # EMG leads force by about the EMD
    assert max(corr) > 0.8
