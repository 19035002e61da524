"""The controller's compiled core: compiled and interpreted give the same commands, and the
state machine keeps its invariants on hostile readings.

The cohort's batch loop runs the compiled functions; mutation testing and NUMBA_DISABLE_JIT run
their Python source. Both must be one implementation in fact, not only in name.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinecare.therapy import controller_core as core
from spinecare.therapy.controller import DecompressionController
from spinecare.therapy.profile import Phase
from spinecare.therapy.protocol import Protocol, default_protocol
from spinecare.vocab import TICK_S, Reading, Region

_SCENARIO = """
import json, math, sys
import numpy as np
from spinecare.therapy.controller import DecompressionController
from spinecare.therapy.protocol import Protocol, default_protocol
from spinecare.vocab import Reading, Region

def scenario(variant: int) -> list[list[float]]:
    base = default_protocol(Region.LUMBAR, 80.0, "L4-L5", traction_minutes=8.0)
    updates = [{}, {"mode": "static", "progressive_steps": 1, "regressive_steps": 1},
               {"mode": "cyclic"}, {"ramp_shape": "logarithmic", "progressive_steps": 2},
               {"oscillation_amplitude_n": 5.0}]
    proto = Protocol.model_validate({**base.model_dump(), **updates[variant]})
    rng = np.random.default_rng(variant)
    ctrl = DecompressionController(proto)
    force, out = 0.0, []
    bumps = set(int(x) for x in rng.integers(500, 24000, 12))
    extra = 0.0
    for k in range(25000):
        now = k * 0.02
        if k in bumps:
            extra = 60.0
        extra *= 0.97
        if k % 4000 == 2000:
            ctrl.pause(now)
        if k % 4000 == 2300:
            ctrl.resume(now)
        f = force + extra + float(rng.normal(0.0, 1.0))
        r = Reading(now, k + 1, round(f, 1), round(force / 12.0 + extra / 40.0, 2), False)
        cmd = ctrl.update(r, now, 0.02)
        force = cmd.force_n
        out.append([now, cmd.force_n, cmd.base_n, float(cmd.release), len(cmd.flags),
                    float(list(type(ctrl.phase)).index(ctrl.phase)), ctrl.peak_n])
    out.append([json.dumps([e.as_dict() for e in ctrl.events])])
    return out

print(json.dumps([scenario(v) for v in range(int(sys.argv[1]))]))
"""


def _run(variants: int, *, interpreted: bool) -> list[list[list[float]]]:
    env = dict(os.environ)
    if interpreted:
        env["NUMBA_DISABLE_JIT"] = "1"
    out = subprocess.run(
        [sys.executable, "-c", _SCENARIO, str(variants)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    result: list[list[list[float]]] = json.loads(out.stdout)
    return result


@pytest.mark.slow
def test_compiled_and_interpreted_controllers_command_the_same_forces() -> None:
    """Every command, phase and guarding event of five modes, with pauses and contractions."""
    compiled = _run(5, interpreted=False)
    interpreted = _run(5, interpreted=True)
    for a, b in zip(compiled, interpreted, strict=True):
        assert len(a) == len(b)
        assert a[-1] == b[-1]  # the guarding events
        assert json.loads(a[-1][0]), "the scenario must provoke counter-tension"
        assert a == b


_PROTO = default_protocol(Region.LUMBAR, 80.0, "L4-L5", traction_minutes=3.0)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(allow_nan=True, allow_infinity=True, width=64),
            st.floats(-1e6, 1e6),
            st.sampled_from([TICK_S, 0.0, 0.5 * TICK_S, 3 * TICK_S]),
        ),
        min_size=1,
        max_size=400,
    )
)
def test_hostile_readings_never_raise_the_target_past_the_peak_or_below_zero(
    steps: list[tuple[float, float, float]],
) -> None:
    """NaN, infinite or absurd readings: the target stays within [0, peak] and the command's
    base never exceeds its force (the policy clamps too; the controller must not rely on it)."""
    ctrl = DecompressionController(_PROTO)
    now = 0.0
    for k, (force, winch, dt) in enumerate(steps):
        now += dt
        cmd = ctrl.update(Reading(now, k + 1, force, winch, False), now, dt)
        assert 0.0 <= cmd.force_n <= _PROTO.peak_force_n
        assert cmd.base_n <= cmd.force_n or math.isclose(cmd.base_n, cmd.force_n)
        assert ctrl.phase in Phase


def test_the_event_log_is_sized_for_a_new_event_every_recoil_second() -> None:
    """The log cannot overflow in a session: a new event needs the alarm off for recoil_s."""
    ctrl = DecompressionController(_PROTO)
    rows = ctrl.event_log.shape[0] // core.EV_COLS
    assert rows >= _PROTO.traction_minutes * 60.0 / ctrl.s.recoil_s
    assert np.all(ctrl.event_log == 0.0)


def test_a_protocol_round_trip_gives_the_same_parameters() -> None:
    """The parameters come from the protocol and settings alone (the batch builds them too)."""
    a = DecompressionController(_PROTO)
    b = DecompressionController(Protocol.model_validate(_PROTO.model_dump()))
    assert np.array_equal(a.params, b.params)
    assert np.array_equal(a.state, b.state, equal_nan=True)
