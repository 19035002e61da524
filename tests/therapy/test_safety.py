"""The safety policy, applied by the device guard: each test names the SAF requirement of
docs/safety.md it proves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from spinecare.quantities import DEVICE_MAX_FORCE_N
from spinecare.therapy.protocol import default_protocol
from spinecare.runtime.guard import DeviceGuard
from spinecare.therapy.protocol import Protocol
from spinecare.therapy.safety import (
    BODY_WEIGHT_CAP,
    MAX_RISE_N_S,
    FaultKind,
    SafetyPolicy,
)
from spinecare.vocab import TICK_S, Command, G


class SafetySupervisor:
    """The policy behind a guard over a scripted table, as the loop uses them."""

    def __init__(self, table: Any, protocol: Protocol, **kw: Any) -> None:
        self.policy = SafetyPolicy(protocol, **kw)
        self.guard = DeviceGuard(table, self.policy)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.policy, name)

    def read(self, now: float) -> tuple[Any, bool]:
        return self.guard.read(now)

    def submit(self, proposal: Command | None, now: float) -> Command:
        return self.guard.write(proposal, now).command

    def acknowledge(self, now: float) -> bool:
        return self.guard.acknowledge()


def make(
    fake_table: Callable[..., Any], region: str = "lumbar", weight: float = 80.0, **kw: Any
) -> tuple[SafetySupervisor, Any]:
    segment = "L4/5" if region == "lumbar" else "C5/6"
    table = fake_table()
    sup = SafetySupervisor(table, default_protocol(region, weight, segment), **kw)
    return sup, table


def run(
    sup: SafetySupervisor,
    table: Any,
    target: Callable[[float], float],
    seconds: float,
    *,
    t0: float = 0.0,
    hook: Callable[[float], None] | None = None,
) -> list[tuple[float, Command, float]]:
    out = []
    n = round(seconds / TICK_S)
    for k in range(n):
        now = t0 + k * TICK_S
        if k or t0:
            table.advance(TICK_S)
        if hook:
            hook(now)
        reading, fresh = sup.read(now)
        proposal = Command(t_s=now, force_n=target(now), base_n=100.0) if fresh else None
        cmd = sup.submit(proposal, now)
        out.append((now, cmd, reading.force_n))
    return out


def test_saf2_clamp_chain_records_each_reason(fake_table: Callable[..., Any]) -> None:
    sup, table = make(fake_table, clinician_max_force_n=200.0)
    out = run(sup, table, lambda t: 5000.0, 20.0)
    assert sup.clamp_counts["clinician"] > 0 and sup.clamp_counts["rate_rise"] > 0
    assert max(c.force_n for _, c, _ in out) == 200.0
    sup, table = make(fake_table)
    out = run(sup, table, lambda t: 5000.0, 20.0)
    assert sup.clamp_counts["protocol"] > 0 and "clinician" not in sup.clamp_counts
    assert max(c.force_n for _, c, _ in out) == sup.protocol.peak_force_n


def test_saf2_caps_hold_even_for_a_protocol_that_escaped_validation(
    fake_table: Callable[..., Any],
) -> None:
    valid = default_protocol("lumbar", 160.0, "L4/5")
    # model_construct skips validation: a corrupted protocol asking for 2000 N.
    bad = valid.model_construct(**{**valid.model_dump(), "peak_force_n": 2000.0})
    table = fake_table(stiffness_n_mm=60.0)
    sup = SafetySupervisor(table, bad)  # type: ignore[arg-type]
    out = run(sup, table, lambda t: 5000.0, 40.0)
    assert sup.clamp_counts["body_weight_cap"] > 0 and sup.clamp_counts["device_limit"] > 0
    assert max(c.force_n for _, c, _ in out) == DEVICE_MAX_FORCE_N


def test_saf3_body_weight_caps() -> None:
    # Lumbar at most 60%, cervical at most 20% of body weight (issue 2).
    assert BODY_WEIGHT_CAP["lumbar"] == 0.60  # type: ignore[index]
    assert BODY_WEIGHT_CAP["cervical"] == 0.20  # type: ignore[index]


@settings(max_examples=40, deadline=None)
@given(
    weight=st.floats(45, 140),
    region=st.sampled_from(["lumbar", "cervical"]),
    targets=st.lists(
        st.one_of(st.floats(-1000, 5000), st.sampled_from([float("nan"), float("inf")])),
        min_size=5,
        max_size=80,
    ),
    clinician=st.one_of(st.none(), st.floats(10, 900)),
)
def test_saf1_saf3_saf5_no_proposal_escapes_the_chain(
    weight: float, region: str, targets: list[float], clinician: float | None
) -> None:
    from tests.therapy.conftest import FakeTable

    table = FakeTable()
    segment = "L4/5" if region == "lumbar" else "C5/6"
    proto = default_protocol(region, weight, segment)
    sup = SafetySupervisor(table, proto, clinician_max_force_n=clinician)
    limit = min(
        c
        for c in (
            clinician,
            proto.peak_force_n,
            BODY_WEIGHT_CAP[proto.region] * weight * G,
            DEVICE_MAX_FORCE_N,
        )
        if c is not None
    )
    last = 0.0
    for k, target in enumerate(targets):
        now = k * TICK_S
        table.advance(TICK_S)
        sup.read(now)
        sup.submit(Command(t_s=now, force_n=target, base_n=target), now)
    for cmd, target in zip(table.written, targets, strict=False):
        assert 0.0 <= cmd.force_n <= limit + 1e-9
        assert cmd.force_n - last <= MAX_RISE_N_S[proto.region] * TICK_S + 1e-9
        if not cmd.release:
            # The chain only tightens: never above what was proposed (a fall is never held up).
            assert cmd.force_n <= max(0.0, target) or target != target
        assert cmd.base_n <= cmd.force_n + 1e-9
        last = cmd.force_n


def test_saf4_overforce_faults_and_releases(fake_table: Callable[..., Any]) -> None:
    sup, table = make(fake_table)
    run(sup, table, lambda t: 200.0, 10.0)
    assert not sup.faulted
    table.force_offset = sup.effective_limit_n  # the load cell now sees far more than allowed
    out = run(sup, table, lambda t: 200.0, 0.2, t0=10.0)
    assert any(f.kind is FaultKind.OVERFORCE for f in sup.faults) or any(
        f.kind is FaultKind.FORCE_JUMP for f in sup.faults
    )
    assert out[-1][1].release


def test_saf6_patient_stop_releases_to_zero_within_2s(fake_table: Callable[..., Any]) -> None:
    sup, table = make(fake_table, weight=140.0)
    run(sup, table, lambda t: 2000.0, 30.0)
    assert table.force() > 300.0
    table.stop = True
    out = run(sup, table, lambda t: 2000.0, 2.0, t0=30.0)
    assert sup.stopped
    assert all(c.release for _, c, _ in out)
    assert out[-1][1].force_n == 0.0
    # The commanded release reaches zero within 1.5 s, so the drive has 0.5 s to follow.
    zero_at = next(t for t, c, _ in out if c.force_n == 0.0)
    assert zero_at - 30.0 <= 1.5 + TICK_S


def test_saf7_stale_reading_is_a_fault(fake_table: Callable[..., Any]) -> None:
    sup, table = make(fake_table)
    run(sup, table, lambda t: 150.0, 5.0)
    table.freeze = True
    out = run(sup, table, lambda t: 150.0, 0.1, t0=5.0)
    kinds = [f.kind for f in sup.faults]
    assert kinds == [FaultKind.STALE_READING]
    # Two ticks of grace, then the fault: at the third tick.
    assert sup.faults[0].t_s <= 5.0 + 3 * TICK_S + 1e-9
    assert out[-1][1].release


def test_saf8_stuck_load_cell(fake_table: Callable[..., Any]) -> None:
    sup, table = make(fake_table)
    run(sup, table, lambda t: 150.0, 5.0)
    table._noise = 0.0  # a frozen value, still "fresh" readings
    run(sup, table, lambda t: 150.0, 0.5, t0=5.0)
    assert [f.kind for f in sup.faults] == [FaultKind.STUCK_LOAD_CELL]


def test_saf8_force_jump(fake_table: Callable[..., Any]) -> None:
    sup, table = make(fake_table)
    run(sup, table, lambda t: 150.0, 5.0)
    table.force_offset = 400.0
    run(sup, table, lambda t: 150.0, 0.04, t0=5.0)
    assert FaultKind.FORCE_JUMP in [f.kind for f in sup.faults]


def test_saf8_encoder_jump(fake_table: Callable[..., Any]) -> None:
    sup, table = make(fake_table)
    run(sup, table, lambda t: 150.0, 5.0)
    table.encoder_offset = 10.0
    run(sup, table, lambda t: 150.0, 0.04, t0=5.0)
    assert [f.kind for f in sup.faults] == [FaultKind.ENCODER_JUMP]


def test_saf8_harness_slip(fake_table: Callable[..., Any]) -> None:
    sup, table = make(fake_table)
    run(sup, table, lambda t: 200.0, 15.0)
    table.force_offset = -100.0  # force falls, the winch holds still
    run(sup, table, lambda t: 200.0, 0.04, t0=15.0)
    assert [f.kind for f in sup.faults] == [FaultKind.HARNESS_SLIP]


def test_saf8_actuator_stall(fake_table: Callable[..., Any]) -> None:
    sup, table = make(fake_table)
    run(sup, table, lambda t: 100.0, 8.0)
    table.stall = True
    run(sup, table, lambda t: 100.0 + 15.0 * (t - 8.0), 3.0, t0=8.0)
    assert [f.kind for f in sup.faults] == [FaultKind.ACTUATOR_STALL]


def test_saf10_faults_latch_until_acknowledged(fake_table: Callable[..., Any]) -> None:
    sup, table = make(fake_table)
    run(sup, table, lambda t: 150.0, 5.0)
    table.encoder_offset = 10.0
    run(sup, table, lambda t: 150.0, 1.0, t0=5.0)
    assert sup.faulted
    # The cause is gone after one tick, yet the fault stays latched.
    out = run(sup, table, lambda t: 150.0, 1.0, t0=6.0)
    assert sup.faulted and all(c.release for _, c, _ in out)
    assert sup.acknowledge(7.0)
    out = run(sup, table, lambda t: 150.0, 1.0, t0=7.0)
    assert not sup.faulted and not out[-1][1].release


def test_saf10_stop_cannot_be_acknowledged_while_pressed(fake_table: Callable[..., Any]) -> None:
    sup, table = make(fake_table)
    table.stop = True
    run(sup, table, lambda t: 150.0, 0.5)
    assert not sup.acknowledge(0.5)
    table.stop = False
    run(sup, table, lambda t: 150.0, 0.1, t0=0.5)
    assert sup.acknowledge(0.6)


def test_saf12_loop_overrun_is_a_fault(fake_table: Callable[..., Any]) -> None:
    sup, table = make(fake_table)
    run(sup, table, lambda t: 150.0, 1.0)
    table.advance(0.2)
    sup.read(1.2)
    assert FaultKind.LOOP_OVERRUN in [f.kind for f in sup.faults]


def test_saf11_refused_command_is_a_fault(fake_table: Callable[..., Any]) -> None:
    sup, table = make(fake_table)
    run(sup, table, lambda t: 150.0, 1.0)
    table.deactivate()
    run(sup, table, lambda t: 150.0, 0.04, t0=1.0)
    assert FaultKind.DEVICE_REFUSED in [f.kind for f in sup.faults]
