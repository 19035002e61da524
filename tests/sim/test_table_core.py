"""The compiled table core against ``SimulatedTable``: same patient, seed and commands, same
readings to the bit and the same ground truth; compiled against interpreted."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinecare.devices.base import DeviceNotActiveError
from spinecare.devices.simulated import SimulatedTable
from spinecare.runtime.clock import SimulatedClock
from spinecare.sim import patient_model as pm
from spinecare.sim import table_core as tc
from spinecare.sim.patient_model import PatientParams
from spinecare.sim.population import virtual_patient
from spinecare.vocab import Command, DeviceState, TableType

TICK_S = 0.02
# Seed 38, session 2: a lumbar patient with six spontaneous contractions in the first 5 minutes
# (the first at 24.4 s); seed 8: one at 7.6-8.2 s, inside a 10 s run.
LONG_SEED = 38
SHORT_SEED = 8

Plan = list[tuple[float, float, bool]]


def plan(ticks: int) -> Plan:
    """A 50 Hz command sequence in 120 s cycles: ramp at 15 N/s to 300 N (from 0 N in the first
    cycle, from the 100 N base after), hold 300 N until 50 s, down at 20 N/s to 100 N, hold,
    creep up at 2 N/s from 110 s with a release at 111-112 s (the drive leaves step tracking and
    must come back to it)."""
    out: Plan = []
    for i in range(ticks):
        t = i * TICK_S
        cycle = t % 120.0
        if cycle < 20.0:
            f = min(300.0, 100.0 + 15.0 * cycle) if t >= 20.0 else 15.0 * cycle
        elif cycle < 50.0:
            f = 300.0
        elif cycle < 60.0:
            f = 300.0 - 20.0 * (cycle - 50.0)
        elif cycle < 110.0:
            f = 100.0
        else:
            f = 100.0 + 2.0 * (cycle - 110.0)
        release = 111.0 <= cycle < 112.0
        out.append((f, 100.0 if t >= 20.0 else 0.0, release))
    return out


def patient(seed: int) -> PatientParams:
    return virtual_patient(seed, region="lumbar", weight_kg=80.0, session_number=2)


FnSet = tuple[Callable[..., None], Callable[..., None], Callable[..., None]]


def py(fn: Callable[..., None]) -> Callable[..., None]:
    """The interpreted source (the function itself when NUMBA_DISABLE_JIT=1)."""
    f: Callable[..., None] = getattr(fn, "py_func", fn)
    return f


COMPILED: FnSet = (tc.table_activate, tc.table_read, tc.table_write)
INTERPRETED: FnSet = (py(tc.table_activate), py(tc.table_read), py(tc.table_write))


def run_core(
    seed: int, cmds: Plan, fns: FnSet, t0: float = 0.0
) -> tuple[tc.TableInputs, list[tuple[float, float, int, float]]]:
    """Drive the core as the batch loop will: target step from the loop clock, read, write."""
    activate, read, write = fns
    inp = tc.table_inputs(patient(seed), seed=seed, session_s=len(cmds) * TICK_S)
    ts, p, s, ev = inp.ts, inp.p, inp.s, inp.ev
    activate(ts, s)
    ts[tc.TS_ORIGIN] = t0
    out = np.zeros(tc.OUT_SIZE)
    readings = []
    for i, (f, b, rel) in enumerate(cmds):
        now = t0 + i * TICK_S
        target = float(int((now - t0) * 1000 + 1e-6))
        read(ts, p, s, ev, inp.noise_lc, inp.spont, target, out)
        readings.append((float(out[0]), float(out[1]), int(out[4]), float(out[3])))
        write(ts, s, f, b, 1.0 if rel else 0.0)
    return inp, readings


def run_table(
    seed: int, cmds: Plan, t0: float = 0.0
) -> tuple[SimulatedTable, list[tuple[float, float, int, float]]]:
    """The reference: SimulatedTable under a simulated clock, read then write, as the runtime."""
    clock = SimulatedClock(t0)
    table = SimulatedTable(patient(seed), seed=seed, time_source=clock.now)
    table.configure()
    table.activate()
    readings = []
    for i, (f, b, rel) in enumerate(cmds):
        clock.sleep_until(t0 + i * TICK_S)
        r = table.read()
        readings.append((r.force_n, r.winch_mm, r.seq, r.t_s))
        table.write(Command(r.t_s, f, b, release=rel))
    return table, readings


def bits(rows: list[tuple[float, float, int, float]]) -> list[tuple[str, str, int, str]]:
    """Readings compared to the bit (``==`` would let -0.0 pass for 0.0)."""
    return [(a.hex(), b.hex(), c, d.hex()) for a, b, c, d in rows]


def assert_same(table: SimulatedTable, inp: tc.TableInputs) -> None:
    assert np.array_equal(table._ev, inp.ev)
    assert np.array_equal(table._s, inp.s, equal_nan=True)
    assert table._k == inp.ts[tc.TS_K]
    assert table.truth.elongation_mm
    assert max(table.truth.elongation_mm) == inp.ts[tc.TS_ELONG_MAX]
    assert table.state is DeviceState.ACTIVE and inp.ts[tc.TS_STATE] == tc.STATE_ACTIVE
    assert inp.ts[tc.TS_EXHAUSTED] == 0.0 and inp.ts[tc.TS_WD_MISSED] == 0.0
    assert table.true_harness_force_n == inp.s[tc.S_TRUE_FORCE]


def test_five_minutes_identical_to_simulated_table() -> None:
    cmds = plan(round(300.0 / TICK_S))
    table, want = run_table(LONG_SEED, cmds)
    inp, got = run_core(LONG_SEED, cmds, COMPILED)
    assert bits(got) == bits(want)
    assert_same(table, inp)
    kinds = [e.kind for e in table.truth.events]
    assert kinds.count("spontaneous") >= 5  # the schedule was followed across sp_on/sp_off
    assert int(inp.ts[tc.TS_SP_IDX]) >= 5


def test_interpreted_core_identical_for_a_short_run() -> None:
    cmds = plan(round(10.0 / TICK_S))
    t0 = 123.456  # a clock that does not start at zero: stamps = origin + device time
    table, want = run_table(SHORT_SEED, cmds, t0)
    inp, got = run_core(SHORT_SEED, cmds, INTERPRETED, t0)
    assert bits(got) == bits(want)
    assert_same(table, inp)
    assert [e.kind for e in table.truth.events] == ["spontaneous"]
    _, compiled = run_core(SHORT_SEED, cmds, COMPILED, t0)
    assert bits(compiled) == bits(got)


def test_travel_fault_identical_and_commands_refused_after() -> None:
    """A harness so soft that full force runs the winch past its travel: the core faults and
    releases on the same tick as the table, and refuses commands after it as the table does."""
    p = dataclasses.replace(patient(SHORT_SEED), harness_k_n_mm=1.0)
    clock = SimulatedClock(0.0)
    table = SimulatedTable(p, seed=SHORT_SEED, time_source=clock.now)
    table.configure()
    table.activate()
    inp = tc.table_inputs(p, seed=SHORT_SEED, session_s=10.0)
    ts, s = inp.ts, inp.s
    tc.table_activate(ts, s)
    out = np.zeros(tc.OUT_SIZE)
    refused = 0
    for i in range(500):
        clock.sleep_until(i * TICK_S)
        r = table.read()
        tc.table_read(ts, inp.p, s, inp.ev, inp.noise_lc, inp.spont, float(i * 20), out)
        assert (r.force_n.hex(), r.winch_mm.hex(), r.seq) == (
            out[0].hex(),
            out[1].hex(),
            int(out[4]),
        )
        assert (r.state is DeviceState.FAULT) == (out[tc.OUT_FAULT] == 1.0)
        try:
            table.write(Command(r.t_s, 890.0, 0.0))
        except DeviceNotActiveError:
            refused += 1
        tc.table_write(ts, s, 890.0, 0.0, 0.0)
        assert (ts[tc.TS_WRITE_ERR] == 1.0) == (table.state is not DeviceState.ACTIVE)
    assert refused > 0 and table.truth.device_fault_s
    assert ts[tc.TS_FAULT_K] / 1000.0 == table.truth.device_fault_s[0]
    assert np.array_equal(table._s, s) and np.array_equal(table._ev, inp.ev)


def test_table_inputs_refuses_what_the_core_does_not_model() -> None:
    p = patient(SHORT_SEED)
    with pytest.raises(ValueError, match="EMG"):
        tc.table_inputs(p, emg=True)
    with pytest.raises(ValueError, match="fault"):
        tc.table_inputs(p, faults=(object(),))


def test_running_out_of_the_pre_draw_is_flagged() -> None:
    inp = tc.table_inputs(patient(SHORT_SEED), seed=SHORT_SEED, session_s=0.0, margin_s=0.0)
    ts = inp.ts
    tc.table_activate(ts, inp.s)
    out = np.zeros(tc.OUT_SIZE)
    n = inp.noise_lc.shape[0]
    ts[tc.TS_LC_I] = float(n)
    tc.table_read(ts, inp.p, inp.s, inp.ev, inp.noise_lc, inp.spont, 0.0, out)
    assert ts[tc.TS_EXHAUSTED] == 1.0 and math.isnan(out[tc.OUT_FORCE])


def test_missed_write_is_flagged() -> None:
    inp = tc.table_inputs(patient(SHORT_SEED), seed=SHORT_SEED, session_s=1.0)
    ts = inp.ts
    tc.table_activate(ts, inp.s)
    out = np.zeros(tc.OUT_SIZE)
    tc.table_read(ts, inp.p, inp.s, inp.ev, inp.noise_lc, inp.spont, 101.0, out)
    assert ts[tc.TS_WD_MISSED] == 1.0


def test_fixed_table_params_match() -> None:
    p = patient(SHORT_SEED)
    inp = tc.table_inputs(p, seed=SHORT_SEED, table=TableType.FIXED)
    table = SimulatedTable(p, seed=SHORT_SEED, table=TableType.FIXED)
    assert np.array_equal(inp.p, table._p)


_finite = st.floats(-2000.0, 2000.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    force=st.one_of(_finite, st.sampled_from([0.0, -0.0, math.inf, math.nan, 890.0])),
    base=_finite,
    release=st.sampled_from([0.0, 1.0]),
    state=st.sampled_from([tc.STATE_ACTIVE, tc.STATE_FAULT, tc.STATE_INACTIVE]),
    track=st.sampled_from([0.0, 1.0]),
    fh=_finite,
)
def test_write_and_activate_compiled_equal_interpreted(
    force: float, base: float, release: float, state: float, track: float, fh: float
) -> None:
    results = []
    for activate, write in (
        (tc.table_activate, tc.table_write),
        (py(tc.table_activate), py(tc.table_write)),
    ):
        ts = np.zeros(tc.TS_SIZE)
        s = pm.initial_state()
        s[pm.S_FH] = fh
        activate(ts, s)
        ts[tc.TS_STATE] = state
        ts[tc.TS_TRACK] = track
        s[pm.S_FRATE] = 3.0
        s[pm.S_RELEASE] = 1.0 - track
        write(ts, s, force, base, release)
        results.append((ts.tobytes(), s.tobytes()))
    assert results[0] == results[1]


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    steps=st.lists(st.integers(0, 60), min_size=1, max_size=8),
    forces=st.lists(st.floats(-50.0, 950.0, allow_nan=False), min_size=8, max_size=8),
)
def test_read_compiled_equal_interpreted(seed: int, steps: list[int], forces: list[float]) -> None:
    results = []
    for read, write in (
        (tc.table_read, tc.table_write),
        (py(tc.table_read), py(tc.table_write)),
    ):
        inp = tc.table_inputs(patient(seed), seed=seed, session_s=2.0)
        tc.table_activate(inp.ts, inp.s)
        out = np.zeros(tc.OUT_SIZE)
        k = 0
        for dk, f in zip(steps, forces, strict=False):
            k += dk
            read(inp.ts, inp.p, inp.s, inp.ev, inp.noise_lc, inp.spont, float(k), out)
            write(inp.ts, inp.s, f, 0.0, 0.0)
        results.append((inp.ts.tobytes(), inp.s.tobytes(), out.tobytes(), inp.ev.tobytes()))
    assert results[0] == results[1]


def test_warm_up_runs() -> None:
    tc.table_warm_up()
