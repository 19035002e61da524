"""SAF-n tests of the pure safety policy (therapy/safety.py), each named after the requirement of
docs/safety.md it proves.

The policy is driven directly with hand-made readings and proposals, so each fault can be
injected alone and each threshold probed just below and just above. Every limit is pinned here
as a number taken from its source, never as the imported constant: a test that compares the
policy with its own constant cannot fail when the constant is loosened.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinecare.therapy.protocol import Protocol, default_protocol
from spinecare.therapy.safety import Clamp, Constraint, FaultKind, FaultRecord, SafetyPolicy
from spinecare.vocab import Command, DeviceState, Reading

# --- The limits, from their sources -------------------------------------------------------
TICK = 0.020  # the loop period: "adjusted every 20 milliseconds" [seed-spinemed]
G = 9.80665  # standard gravity [bipm-si]
# SAF-3: the policy's caps, 60% (lumbar) and 20% (cervical) of body weight [shealy-borgmeyer1997]
# [eyerman1998] [akinbo2006] [judovich1957], and the device's hard limit of 890 N
# [drx9000-manual].
LUMBAR_CAP = 0.60
CERVICAL_CAP = 0.20
DEVICE_N = 890.0
# SAF-5: rise at most 50 N/s lumbar, 15 N/s cervical: per 20 ms tick 1.0 N and 0.3 N.
RISE_PER_TICK = {"lumbar": 1.0, "cervical": 0.3}
# SAF-4: 5% above the hard limit (half the +/-10% accuracy of [c1trac-k222912]) plus 5 N, on 2
# consecutive ticks.
# SAF-6: commanded zero within 1.5 s of the stop, at 100 N/s at least [spinemed-s200e].
# SAF-7: a reading may be 2 ticks old (40 ms); SAF-12: the loop may pause 2 ticks + 5 ms.
# SAF-8: range -50..1500 N and -5..400 mm (quantities registry); stuck = 15 repeats above 20 N;
# encoder step 1.25 x 100 mm/s x 20 ms + 0.5 mm = 3.0 mm; force jump = half the body-weight cap
# + 20 N; spike above max(40 N, 10% body weight) returning by 70%; slip = drop above
# max(30 N, 25%) with the winch paying out less than 0.05 mm; stall = error above
# max(20 N, 15%) with the winch within 0.1 mm for 25 ticks.

NAN = float("nan")
INF = float("inf")


def protocol(region: str = "lumbar", weight: float = 80.0, peak: float | None = None) -> Protocol:
    proto = default_protocol(region, weight, "L4/5" if region == "lumbar" else "C5/6")
    if peak is not None:
        # model_copy does not validate: a protocol that escaped validation, on purpose.
        proto = proto.model_copy(update={"peak_force_n": peak})
    return proto


def make(
    region: str = "lumbar",
    weight: float = 80.0,
    *,
    peak: float | None = 2000.0,
    clinician: float | None = None,
) -> SafetyPolicy:
    """A policy whose protocol peak (2000 N by default) is above every other cap."""
    return SafetyPolicy(protocol(region, weight, peak), clinician_max_force_n=clinician)


def command_up_to(pol: SafetyPolicy, level: float) -> float:
    """Propose ``level`` every tick until the command stops rising; the last command."""
    last = -1.0
    for k in range(5000):  # 890 N at 0.3 N a tick takes under 3000
        now = k * TICK
        force = pol.decide(Command(now, level, 0.0), now).command.force_n
        if force == last:
            return force
        last = force
    raise AssertionError(f"the command never settled (last {last} N)")


def kinds(pol: SafetyPolicy) -> list[FaultKind]:
    return [f.kind for f in pol.faults]


@dataclass
class Feed:
    """Hand-made readings, one per tick: ``feed(force)`` checks one and returns 'fresh'.

    The winch creeps 0.01 mm a tick by default (a real drive is never perfectly still), so that
    only the stall tests, which hold it still on purpose, can see a stall.
    """

    pol: SafetyPolicy
    k: int = 0
    winch: float = 10.0
    seq: int = 0
    decisions: list[Command] = field(default_factory=list)

    @property
    def now(self) -> float:
        return self.k * TICK

    @property
    def last(self) -> float:
        """The time of the last reading checked."""
        return (self.k - 1) * TICK

    def __call__(
        self,
        force: float,
        *,
        dx: float = 0.01,
        winch: float | None = None,
        stop: bool = False,
        state: DeviceState = DeviceState.ACTIVE,
        age: float = 0.0,
        repeat: bool = False,
        propose: float | None = None,
    ) -> bool:
        now = self.now
        self.winch = winch if winch is not None else self.winch + dx
        if not repeat:
            self.seq += 1
        fresh = self.pol.check(Reading(now - age, self.seq, force, self.winch, stop, state), now)
        if propose is not None:
            self.decisions.append(self.pol.decide(Command(now, propose, 0.0), now).command)
        self.k += 1
        return fresh


def noisy(force: float, k: int) -> float:
    """A load cell under load is never perfectly constant (and a constant one is stuck)."""
    return force + (0.3 if k % 2 else -0.3)


# --- SAF-1/2: the clamp chain ---------------------------------------------------------------
def test_saf2_each_stage_records_its_reason_and_values() -> None:
    # Caps in falling order along the chain, so that one proposal meets every stage:
    # clinician 1000 > protocol 950 > 60% of 155 kg = 912.0 N > device 890 N > rise 1 N.
    pol = make(weight=155.0, peak=950.0, clinician=1000.0)
    d = pol.decide(Command(0.0, 2000.0, 5000.0), 0.0)
    bw = LUMBAR_CAP * 155.0 * G
    expected = [
        ("clinician", "the clinician's limit for this patient", 2000.0, 1000.0),
        ("protocol", "the protocol's peak force", 1000.0, 950.0),
        ("body_weight_cap", "60% of body weight (lumbar)", 950.0, bw),
        ("device_limit", "the table's hard limit", bw, DEVICE_N),
        ("rate_rise", "rise limited to 50 N/s", DEVICE_N, 1.0),
        ("base_above_setpoint", "base tension above the setpoint", 5000.0, 1.0),
    ]
    assert len(d.clamps) == len(expected)
    for clamp, (stage, reason, before, limit) in zip(d.clamps, expected, strict=True):
        assert (clamp.stage, clamp.reason) == (stage, reason)
        assert clamp.before_n == pytest.approx(before)
        assert clamp.limit_n == pytest.approx(limit)
        assert clamp.after_n == pytest.approx(limit)
    assert d.stages == tuple(e[0] for e in expected)
    assert d.command == Command(0.0, 1.0, 1.0)
    assert d.original_n == 2000.0
    # What the guard wrote is remembered with its clamps, and each stage is counted.
    assert pol.last_command == d.command and pol.last_clamps == d.clamps
    assert pol.clamp_counts == {e[0]: 1 for e in expected}
    pol.decide(Command(TICK, 2000.0, 0.0), TICK)
    assert pol.clamp_counts["clinician"] == 2 and pol.clamp_counts["rate_rise"] == 2
    assert "base_above_setpoint" not in {c.stage for c in pol.last_clamps}
    assert pol.clamp_counts["base_above_setpoint"] == 1


def test_saf2_cervical_reasons_name_the_region_and_its_rate() -> None:
    pol = make("cervical", 100.0)
    d = pol.decide(Command(0.0, 2000.0, 0.0), 0.0)
    assert [(c.stage, c.reason) for c in d.clamps] == [
        ("body_weight_cap", "20% of body weight (cervical)"),
        ("rate_rise", "rise limited to 15 N/s"),
    ]


def test_saf2_a_proposal_within_every_limit_passes_untouched() -> None:
    pol = make()
    command_up_to(pol, 100.0)
    d = pol.decide(Command(5.0, 100.5, 50.0, False, ("guarding",)), 5.0)
    assert d.command == Command(5.0, 100.5, 50.0, False, ("guarding",))
    assert d.clamps == () and d.stages == ()
    # A proposal exactly at a cap is not clamped (the cap itself is allowed).
    pol = make(clinician=100.0)
    command_up_to(pol, 100.0)
    d = pol.decide(Command(9.0, 100.0, 100.0), 9.0)
    assert d.command.force_n == 100.0 and d.clamps == ()


@pytest.mark.parametrize("bad", [NAN, INF, -INF, -1.0, -1e-9])
def test_saf1_an_invalid_proposal_becomes_zero(bad: float) -> None:
    pol = make()
    command_up_to(pol, 300.0)
    d = pol.decide(Command(7.0, bad, 100.0), 7.0)
    assert d.command.force_n == 0.0 and d.command.base_n == 0.0
    first = d.clamps[0]
    assert first.stage == "invalid" and first.limit_n == 0.0 and first.after_n == 0.0
    assert first.before_n == bad or (math.isnan(bad) and math.isnan(first.before_n))
    assert first.reason == f"not a usable force ({bad!r})"
    # Zero is below every cap and the rise limit: nothing else clamps, the base follows.
    assert d.stages == ("invalid", "base_above_setpoint")
    assert d.original_n == bad or math.isnan(bad)


@pytest.mark.parametrize("bad", [NAN, INF, -INF, -5.0])
def test_saf1_an_invalid_base_becomes_zero(bad: float) -> None:
    pol = make()
    command_up_to(pol, 50.0)
    d = pol.decide(Command(3.0, 50.0, bad), 3.0)
    assert d.command.force_n == 50.0 and d.command.base_n == 0.0
    assert d.stages == ("base_invalid",)
    clamp = d.clamps[0]
    assert clamp.reason == f"not a usable base ({bad!r})"
    assert (clamp.limit_n, clamp.after_n) == (0.0, 0.0)


def test_saf2_base_never_above_the_setpoint_also_when_holding() -> None:
    pol = make()
    feed = Feed(pol)
    feed(0.0, propose=None)
    for _ in range(40):
        feed(noisy(20.0, feed.k), propose=500.0)
    d = pol.decide(Command(feed.now, 30.0, 80.0), feed.now)
    assert d.command.force_n == 30.0 and d.command.base_n == 30.0
    clamp = d.clamps[-1]
    assert (clamp.stage, clamp.before_n, clamp.limit_n, clamp.after_n) == (
        "base_above_setpoint",
        80.0,
        30.0,
        30.0,
    )
    # No fresh reading: the last setpoint is repeated with its base, nothing new is clamped.
    for k in range(1, 4):
        hold = pol.decide(None, feed.now + k * TICK)
        assert hold.command == Command(feed.now + k * TICK, 30.0, 30.0)
        assert hold.original_n is None and hold.clamps == ()
    d = pol.decide(Command(feed.now, 30.0, 10.0), feed.now)
    assert d.command.base_n == 10.0
    assert pol.decide(None, feed.now).command.base_n == 10.0


def test_saf1_no_proposal_before_any_reading_is_a_release() -> None:
    pol = make()
    d = pol.decide(None, 0.0)
    assert d.command == Command(0.0, 0.0, 0.0, True, ("fault",))
    assert d.original_n is None and d.clamps == ()


def test_saf2_constraint_only_tightens() -> None:
    c = Constraint(100.0)
    c.tighten_to(150.0, "a", "above: untouched")
    c.tighten_to(100.0, "b", "equal: untouched")
    assert c.value_n == 100.0 and c.clamps == []
    c.tighten_to(60.0, "c", "below")
    c.tighten_to(80.0, "d", "a looser limit later cannot raise it")
    assert c.value_n == 60.0 and c.original_n == 100.0
    assert c.clamps == [Clamp("c", "below", 100.0, 60.0, 60.0)]
    n = Constraint(NAN)
    n.tighten_to(40.0, "nan", "not a number is above every limit")
    assert n.value_n == 40.0 and n.clamps[0].after_n == 40.0
    r = Constraint(-3.0)
    r.refuse("invalid", "negative")
    assert r.value_n == 0.0 and r.clamps == [Clamp("invalid", "negative", -3.0, 0.0, 0.0)]
    assert Clamp("s", "r", 1.234, 5.678, 9.876).as_dict() == {
        "stage": "s",
        "reason": "r",
        "before_n": 1.23,
        "limit_n": 5.68,
        "after_n": 9.88,
    }


proposal_values = st.one_of(
    st.floats(-100.0, 2500.0, allow_nan=False),
    st.sampled_from([NAN, INF, -INF, 0.0, -0.0, 1e300]),
)


@settings(max_examples=60, deadline=None)
@given(
    region=st.sampled_from(["lumbar", "cervical"]),
    weight=st.floats(40.0, 200.0),
    clinician=st.one_of(st.none(), st.floats(5.0, 1200.0)),
    peak=st.floats(1.0, 2000.0),
    start=st.floats(0.0, 1000.0),
    steps=st.lists(st.tuples(proposal_values, proposal_values), min_size=1, max_size=25),
)
def test_saf2_saf5_the_chain_only_tightens_from_any_level(
    region: str,
    weight: float,
    clinician: float | None,
    peak: float,
    start: float,
    steps: list[tuple[float, float]],
) -> None:
    """From a high last command (up to the caps), against a model of the chain built from the
    sources' numbers: the output is the least of the proposal, every cap and last + rise; an
    invalid proposal is zero; each clamp has its stage and values."""
    pol = make(region, weight, peak=peak, clinician=clinician)
    frac = LUMBAR_CAP if region == "lumbar" else CERVICAL_CAP
    bw_cap = frac * (weight * G)
    last = command_up_to(pol, start)
    assert last == pytest.approx(min(start, peak, bw_cap, DEVICE_N, clinician or INF))
    for k, (force, base) in enumerate(steps):
        now = 100.0 + k * TICK
        model: list[tuple[str, float, float]] = []
        v = force
        if not (math.isfinite(v) and v >= 0.0):
            model.append(("invalid", v, 0.0))
            v = 0.0
        caps = [
            ("clinician", clinician),
            ("protocol", peak),
            ("body_weight_cap", bw_cap),
            ("device_limit", DEVICE_N),
            ("rate_rise", last + RISE_PER_TICK[region]),
        ]
        for stage, cap in caps:
            if cap is not None and v > cap:
                model.append((stage, v, cap))
                v = cap
        b = base
        if not (math.isfinite(b) and b >= 0.0):
            model.append(("base_invalid", b, 0.0))
            b = 0.0
        if b > v:
            model.append(("base_above_setpoint", b, v))
            b = v
        d = pol.decide(Command(now, force, base), now)
        out = d.command.force_n
        assert out == pytest.approx(v, abs=1e-9)
        assert d.command.base_n == pytest.approx(b, abs=1e-9)
        # The requirement itself, stated plainly: never above a cap, the rise limit or the
        # proposal; never below zero; the base never above the setpoint.
        for _, cap in caps:
            assert cap is None or out <= cap + 1e-9
        assert 0.0 <= d.command.base_n <= out
        assert out <= force + 1e-9 if math.isfinite(force) and force >= 0.0 else out == 0.0
        assert [c.stage for c in d.clamps] == [m[0] for m in model]
        for clamp, (_, before, limit) in zip(d.clamps, model, strict=True):
            assert clamp.before_n == pytest.approx(before, nan_ok=True)
            assert clamp.limit_n == pytest.approx(limit) == clamp.after_n
        last = out


# --- SAF-3: the caps, reached and held ------------------------------------------------------
@pytest.mark.parametrize(
    ("region", "weight", "clinician", "cap_n", "stage"),
    [
        ("lumbar", 100.0, None, LUMBAR_CAP * 100.0 * G, "body_weight_cap"),  # 588.4 N
        ("cervical", 100.0, None, CERVICAL_CAP * 100.0 * G, "body_weight_cap"),  # 196.1 N
        ("cervical", 45.0, None, CERVICAL_CAP * 45.0 * G, "body_weight_cap"),  # 88.3 N
        ("lumbar", 200.0, None, DEVICE_N, "device_limit"),  # 60% would be 1176.8 N
        ("lumbar", 80.0, 300.0, 300.0, "clinician"),
        ("lumbar", 80.0, 600.0, LUMBAR_CAP * 80.0 * G, "body_weight_cap"),  # the lower one
    ],
)
def test_saf3_commands_reach_each_cap_and_stop_there(
    region: str, weight: float, clinician: float | None, cap_n: float, stage: str
) -> None:
    pol = make(region, weight, clinician=clinician)
    assert pol.effective_limit_n == pytest.approx(cap_n)
    top = command_up_to(pol, 5000.0)
    assert top == pytest.approx(cap_n)
    d = pol.decide(Command(99.0, 5000.0, 0.0), 99.0)
    assert d.command.force_n == pytest.approx(cap_n)
    assert d.stages[-1] == stage  # the last and tightest stage to cut it


def test_saf3_the_protocol_peak_is_a_cap_too() -> None:
    pol = make(peak=222.2)
    assert command_up_to(pol, 5000.0) == 222.2
    assert pol.decide(Command(50.0, 5000.0, 0.0), 50.0).stages == ("protocol",)


def test_saf3_limits_of_the_policy() -> None:
    pol = make("lumbar", 80.0, peak=None, clinician=250.0)
    assert pol.body_weight_cap_n == pytest.approx(0.60 * 80.0 * G)
    assert pol.hard_limit_n == 250.0
    assert pol.effective_limit_n == min(250.0, pol.protocol.peak_force_n)
    assert make("cervical", 70.0).body_weight_cap_n == pytest.approx(0.20 * 70.0 * G)
    assert make("lumbar", 200.0).hard_limit_n == DEVICE_N
    assert make("lumbar", 100.0, clinician=900.0).hard_limit_n == pytest.approx(0.6 * 100 * G)


# --- SAF-4: overforce -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("weight", "clinician", "hard_n"),
    [
        (80.0, 200.0, 200.0),  # the clinician's limit
        (80.0, None, LUMBAR_CAP * 80.0 * G),  # the body-weight cap
        (80.0, 1000.0, LUMBAR_CAP * 80.0 * G),  # the lowest of them, not the highest
        (200.0, None, DEVICE_N),  # the device limit
    ],
)
def test_saf4_overforce_on_the_second_tick_above_not_the_first(
    weight: float, clinician: float | None, hard_n: float
) -> None:
    pol = make(weight=weight, clinician=clinician)
    threshold = 1.05 * hard_n + 5.0
    assert pol.hard_limit_n == pytest.approx(hard_n)
    feed = Feed(pol)
    # Just below, for long: nothing.
    for _ in range(30):
        feed(noisy(threshold - 0.6, feed.k))
    assert not pol.faulted
    # Above, below, above, below: the count restarts each time.
    for f in (threshold + 0.5, threshold - 0.5) * 5:
        feed(f)
    assert not pol.faulted
    feed(threshold + 0.5)
    assert not pol.faulted  # the first tick above is not yet a fault
    t = feed.now
    feed(threshold + 0.7)
    assert kinds(pol) == [FaultKind.OVERFORCE]
    assert pol.faults[0].t_s == t and pol.releasing
    assert pol.faults[0].detail == (f"{threshold + 0.7:.0f} N above the limit of {hard_n:.0f} N")


def test_saf4_a_slowly_rising_force_trips_overforce_and_nothing_else() -> None:
    # Clinician 200 N on 80 kg: 1.05 x 200 + 5 = 215 N. The force rises 2 N a tick, far below
    # the force-jump threshold, and the command follows it (no stall).
    pol = make(clinician=200.0)
    feed = Feed(pol)
    force = 150.0
    while not pol.faulted and force < 260.0:
        feed(force, dx=0.2, propose=force)
        force += 2.0
    assert kinds(pol) == [FaultKind.OVERFORCE]
    assert force - 2.0 == 218.0  # 216 N was the first above 215 N, 218 N the second
    release = pol.decide(Command(feed.now, 200.0, 100.0), feed.now).command
    assert release.release and release.flags == ("fault",) and release.base_n == 0.0
    assert feed.decisions[-1].release
    assert 0.0 < release.force_n < feed.decisions[-1].force_n


# --- SAF-5: rise only ----------------------------------------------------------------------
@pytest.mark.parametrize("region", ["lumbar", "cervical"])
def test_saf5_the_setpoint_rises_at_most_50_or_15_n_per_s(region: str) -> None:
    pol = make(region, 100.0)
    per_tick = RISE_PER_TICK[region]
    for k in range(1, 60):
        d = pol.decide(Command(k * TICK, 5000.0, 0.0), k * TICK)
        assert d.command.force_n == pytest.approx(k * per_tick)
        assert d.clamps[-1].stage == "rate_rise"
        assert d.clamps[-1].limit_n == pytest.approx((k - 1) * per_tick + per_tick)
    # From a steady level, a step up is cut to one tick's rise.
    level = command_up_to(make(region, 100.0), 30.0)
    pol = make(region, 100.0)
    command_up_to(pol, 30.0)
    d = pol.decide(Command(9.0, 45.0, 0.0), 9.0)
    assert d.command.force_n == pytest.approx(level + per_tick)


@pytest.mark.parametrize("goal", [0.0, 10.0, 250.0, 299.0])
def test_saf5_a_fall_is_never_held_up_nor_raised(goal: float) -> None:
    pol = make()
    command_up_to(pol, 300.0)
    d = pol.decide(Command(20.0, goal, 0.0), 20.0)
    assert d.command.force_n == goal and d.clamps == ()


# --- SAF-6: patient stop --------------------------------------------------------------------
def test_saf6_stop_releases_from_the_last_command_to_zero_within_1_5_s() -> None:
    pol = make()
    assert command_up_to(pol, 300.0) == 300.0
    # The stop arrives with a measured force far above the command: the release starts from
    # the command (300 N), at 300 N / 1.5 s = 200 N/s = 4 N a tick, and never rises.
    feed = Feed(pol)
    feed(400.0, stop=True)
    assert pol.stopped and pol.releasing and pol.stop_reason == "patient stop button"
    assert pol.stop_requested_s == 0.0
    out = [pol.decide(Command(k * TICK, 1000.0, 500.0), k * TICK).command for k in range(90)]
    assert out[0].force_n == 296.0
    assert all(c.release and c.base_n == 0.0 and c.flags == ("stop",) for c in out)
    assert all(b.force_n <= a.force_n for a, b in itertools.pairwise(out))
    zero = next(k for k, c in enumerate(out) if c.force_n == 0.0)
    assert zero == 74  # 75 commands of 4 N: zero 1.48 s after the stop
    assert all(c.force_n == 0.0 for c in out[zero:])


def test_saf6_a_low_force_releases_at_100_n_s() -> None:
    pol = make()
    command_up_to(pol, 60.0)
    pol.request_stop(1.0, "ctrl-c")
    out = [pol.decide(None, 1.0 + k * TICK).command.force_n for k in range(40)]
    assert out[:3] == pytest.approx([58.0, 56.0, 54.0])  # 100 N/s, not 60 N / 1.5 s
    assert out.index(0.0) == 29


@settings(max_examples=40, deadline=None)
@given(level=st.floats(0.5, DEVICE_N))
def test_saf6_release_from_any_level_reaches_zero_within_1_5_s(level: float) -> None:
    pol = make("lumbar", 200.0)
    assert command_up_to(pol, level) == pytest.approx(level)
    pol.request_stop(30.0)
    step = max(100.0, level / 1.5) * TICK
    times = [30.0 + k * TICK for k in range(80)]
    out = [pol.decide(Command(t, 900.0, 0.0), t).command for t in times]
    assert out[0].force_n == pytest.approx(max(0.0, level - step))
    zero_at = next(c.t_s for c in out if c.force_n == 0.0)
    # Zero is commanded within the 75 commands of 1.5 s (the 75th goes out 1.48 s after the
    # first), from every level: a float remainder must not add a 76th on the limit itself.
    assert zero_at - 30.0 <= 1.5 - TICK + 1e-9
    forces = [c.force_n for c in out]
    assert all(b <= a for a, b in itertools.pairwise(forces))
    assert all(c.release and c.flags == ("stop",) for c in out)


def test_saf6_the_first_stop_is_kept_and_latched() -> None:
    pol = make()
    feed = Feed(pol)
    feed(10.0)
    pol.request_stop(feed.now, "ctrl-c")
    pol.request_stop(feed.now + 1.0, "monitor stop")
    feed(10.0, stop=True)
    assert pol.stop_requested_s == pytest.approx(TICK) and pol.stop_reason == "ctrl-c"
    for _ in range(20):
        feed(noisy(10.0, feed.k))  # button released: still stopped until acknowledged
    assert pol.stopped and pol.releasing and not pol.faulted
    assert pol.decide(Command(feed.now, 50.0, 0.0), feed.now).command.release


# --- SAF-7: freshness -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("age", "stale"),
    [(0.0, False), (0.039, False), (0.040, False), (0.0405, True), (0.06, True), (1.0, True)],
)
def test_saf7_a_reading_older_than_two_ticks_is_stale(age: float, stale: bool) -> None:
    pol = make()
    feed = Feed(pol)
    feed(50.0)
    feed(50.3, age=age)
    assert pol.faults == (
        [FaultRecord(FaultKind.STALE_READING, TICK, f"reading {1000 * age:.0f} ms old")]
        if stale
        else []
    )


def test_saf7_a_repeated_reading_is_not_fresh_and_goes_stale_on_the_third_tick() -> None:
    pol = make()
    command_up_to(pol, 51.0)
    pol.check(Reading(0.0, 7, 50.0, 10.0, False), 0.0)
    d0 = pol.decide(Command(0.0, 51.0, 20.0), 0.0)
    assert d0.command.force_n == 51.0
    fresh = [pol.check(Reading(0.0, 7, 50.0, 10.0, False), k * TICK) for k in (1, 2)]
    assert fresh == [False, False] and not pol.faulted
    # No fresh reading: the last command is repeated, not a release.
    hold = pol.decide(None, 2 * TICK).command
    assert (hold.force_n, hold.base_n, hold.release) == (d0.command.force_n, 20.0, False)
    pol.check(Reading(0.0, 7, 50.0, 10.0, False), 3 * TICK)
    assert kinds(pol) == [FaultKind.STALE_READING]
    assert pol.faults[0].detail == "reading 60 ms old"


def test_saf7_repeated_readings_are_not_checked_again() -> None:
    # The same sample repeated (restamped, so never stale) is not new data: it cannot look
    # stuck, and the next new sample is compared with the last new one.
    pol = make()
    assert pol.check(Reading(0.0, 1, 100.0, 10.0, False), 0.0)
    for k in range(1, 40):
        assert not pol.check(Reading(k * TICK, 1, 100.0, 10.0, False), k * TICK)
    assert pol.check(Reading(40 * TICK, 2, 100.4, 10.1, False), 40 * TICK)
    assert pol.check(Reading(41 * TICK, 3, 100.0, 10.2, False), 41 * TICK)
    assert not pol.faulted


# --- SAF-8: plausibility --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("force", "winch", "bad"),
    [
        (-50.5, 10.0, True),
        (-49.5, 10.0, False),
        (1500.5, 10.0, True),
        (1499.5, 10.0, False),
        (NAN, 10.0, True),
        (INF, 10.0, True),
        (-INF, 10.0, True),
        (100.0, -5.5, True),
        (100.0, -4.5, False),
        (100.0, 400.5, True),
        (100.0, 399.5, False),
        (100.0, NAN, True),
        (100.0, INF, True),
    ],
)
def test_saf8_range_of_load_cell_and_encoder(force: float, winch: float, bad: bool) -> None:
    pol = make()
    Feed(pol)(force, winch=winch)
    assert kinds(pol) == ([FaultKind.OUT_OF_RANGE] if bad else [])
    if bad:
        detail = f"encoder {winch} mm" if force == 100.0 else f"load cell {force} N"
        assert pol.faults[0] == FaultRecord(FaultKind.OUT_OF_RANGE, 0.0, detail)


def test_saf8_out_of_range_skips_the_other_checks() -> None:
    pol = make()
    feed = Feed(pol)
    feed(100.0)
    feed(NAN, dx=50.0)  # also a jump of the encoder, but the load cell is what is broken
    assert kinds(pol) == [FaultKind.OUT_OF_RANGE]


@pytest.mark.parametrize(
    ("force", "repeats", "stuck"),
    [(20.5, 15, True), (20.5, 14, False), (20.0, 40, False), (400.0, 15, True)],
)
def test_saf8_stuck_load_cell(force: float, repeats: int, stuck: bool) -> None:
    pol = make()
    feed = Feed(pol)
    feed(force)
    for _ in range(repeats - 1):
        feed(force)
    assert not pol.faulted
    t = feed.now
    feed(force)  # the last repeat
    if stuck:
        assert pol.faults == [
            FaultRecord(FaultKind.STUCK_LOAD_CELL, t, f"load cell frozen at {force} N")
        ]
    else:
        assert not pol.faulted


def test_saf8_stuck_count_restarts_on_a_new_value() -> None:
    pol = make()
    feed = Feed(pol)
    for _ in range(14):
        feed(80.0)
    feed(80.1)
    for _ in range(14):
        feed(80.1)
    assert not pol.faulted
    feed(80.1)
    assert kinds(pol) == [FaultKind.STUCK_LOAD_CELL]


@pytest.mark.parametrize(
    ("region", "weight", "start"),
    [("lumbar", 80.0, 100.0), ("cervical", 60.0, 20.0), ("lumbar", 200.0, 50.0)],
)
@pytest.mark.parametrize("above", [True, False])
def test_saf8_force_jump(region: str, weight: float, start: float, above: bool) -> None:
    cap = (LUMBAR_CAP if region == "lumbar" else CERVICAL_CAP) * weight * G
    jump = 0.5 * cap + 20.0
    pol = make(region, weight)
    feed = Feed(pol)
    feed(start)
    step = jump + (0.5 if above else -0.5)
    feed(start + step)
    assert kinds(pol) == ([FaultKind.FORCE_JUMP] if above else [])
    if above:
        detail = f"force changed {start + step - start:+.0f} N in one tick"
        assert pol.faults[0] == FaultRecord(FaultKind.FORCE_JUMP, TICK, detail)


@pytest.mark.parametrize(
    ("weight", "size", "back", "spike"),
    [
        (80.0, 79.0, 0.71, True),  # 10% of 80 kg = 78.5 N; back by 71%
        (80.0, 79.0, 0.69, False),  # back by 69%
        (80.0, 78.0, 1.0, False),  # below 78.5 N
        (80.0, -79.0, 0.71, True),  # a dip that comes back up
        (40.0, 41.0, 1.0, True),  # 40 N at least (10% of 40 kg is 39.2 N)
        (40.0, 39.5, 1.0, False),
    ],
)
def test_saf8_single_sample_spike(weight: float, size: float, back: float, spike: bool) -> None:
    pol = make("lumbar", weight)
    feed = Feed(pol)
    feed(200.0)
    # The winch pays out on the falling sample, so that no fall is a harness slip.
    feed(200.0 + size, dx=-0.1 if size < 0 else 0.01)
    feed(200.0 + size - back * size, dx=-0.1 if size > 0 else 0.01)
    assert kinds(pol) == ([FaultKind.FORCE_JUMP] if spike else [])
    if spike:
        assert pol.faults[0].detail == f"load-cell spike of {size:+.0f} N"


def test_saf8_two_steps_the_same_way_are_no_spike() -> None:
    pol = make()
    feed = Feed(pol)
    for f in (100.0, 180.0, 260.0, 180.0):
        feed(f, dx=-0.1)
    assert kinds(pol) == [FaultKind.FORCE_JUMP]  # only the return of the second step
    pol = make()
    feed = Feed(pol)
    for f in (100.0, 180.0, 260.0):
        feed(f)
    assert not pol.faulted


@pytest.mark.parametrize(("dx", "jump"), [(2.9, False), (3.1, True), (-2.9, False), (-3.1, True)])
def test_saf8_encoder_jump(dx: float, jump: bool) -> None:
    pol = make()
    feed = Feed(pol)
    feed(150.0)
    feed(150.3, dx=dx)
    assert kinds(pol) == ([FaultKind.ENCODER_JUMP] if jump else [])
    if jump:
        detail = f"encoder moved {dx:+.1f} mm in one tick"
        assert pol.faults[0] == FaultRecord(FaultKind.ENCODER_JUMP, TICK, detail)


@pytest.mark.parametrize(
    ("before", "drop", "dx", "slip"),
    [
        (200.0, 51.0, 0.0, True),  # 25% of 200 N = 50 N
        (200.0, 49.0, 0.0, False),
        (200.0, 51.0, -0.04, True),  # the winch paid out less than 0.05 mm
        (200.0, 51.0, -0.06, False),  # it paid out: the fall is the drive's doing
        (100.0, 31.0, 0.0, True),  # 30 N at least
        (100.0, 29.0, 0.0, False),
    ],
)
def test_saf8_harness_slip(before: float, drop: float, dx: float, slip: bool) -> None:
    pol = make()
    feed = Feed(pol)
    feed(before)
    feed(before - drop, dx=dx)
    assert kinds(pol) == ([FaultKind.HARNESS_SLIP] if slip else [])
    if slip:
        detail = f"force fell {drop:.0f} N with the winch holding"
        assert pol.faults[0] == FaultRecord(FaultKind.HARNESS_SLIP, TICK, detail)


def stall_run(
    command: float, error: float, *, jitter: float = 0.0, ticks: int = 25, stop: bool = False
) -> SafetyPolicy:
    """Hold ``command``; the winch stands still for 25 ticks (the window fills) with a small
    error, then the force stays ``error`` N off the command for ``ticks`` ticks."""
    pol = make()
    command_up_to(pol, command)
    feed = Feed(pol, k=10_000)
    for _ in range(25):
        feed(noisy(command, feed.k), winch=10.0, propose=command)
    if stop:
        pol.request_stop(feed.now)
    for i in range(ticks):
        last = feed.decisions[-1].force_n
        feed(noisy(last - error, feed.k), winch=10.0 + (jitter if i % 2 else 0.0), propose=command)
    return pol


@pytest.mark.parametrize(
    ("command", "error", "jitter", "ticks", "stall"),
    [
        (200.0, 31.0, 0.0, 25, True),  # 15% of 200 N = 30 N, for 25 ticks
        (200.0, 31.0, 0.0, 24, False),  # 24 ticks
        (200.0, 29.0, 0.0, 60, False),
        (200.0, -31.0, 0.0, 25, True),  # the force above the command, too
        (100.0, 21.0, 0.0, 25, True),  # 20 N at least
        (100.0, 19.0, 0.0, 60, False),
        (200.0, 31.0, 0.09, 25, True),  # the winch within 0.1 mm: standing still
        (200.0, 31.0, 0.11, 60, False),  # it moves
    ],
)
def test_saf8_actuator_stall(
    command: float, error: float, jitter: float, ticks: int, stall: bool
) -> None:
    pol = stall_run(command, error, jitter=jitter, ticks=ticks)
    assert kinds(pol) == ([FaultKind.ACTUATOR_STALL] if stall else [])
    if stall:
        t = (10_000 + 25 + ticks - 1) * TICK  # the 25th tick off the command
        detail = f"tracking error {abs(error):.0f} N, winch still"
        assert pol.faults[0] == FaultRecord(FaultKind.ACTUATOR_STALL, pytest.approx(t), detail)


def test_saf8_while_releasing_only_a_force_above_the_falling_command_is_a_stall() -> None:
    # Below the falling command: the table pays out faster than asked, which is the point.
    assert not stall_run(200.0, 40.0, ticks=40, stop=True).faulted
    # Above it, with the winch still: the table cannot pay out.
    pol = stall_run(200.0, -40.0, ticks=25, stop=True)
    assert kinds(pol) == [FaultKind.ACTUATOR_STALL]
    assert stall_run(200.0, -40.0, ticks=24, stop=True).faults == []


@pytest.mark.parametrize(
    ("state", "fault"),
    [(DeviceState.FAULT, True), (DeviceState.RELEASING, False), (DeviceState.ACTIVE, False)],
)
def test_saf8_a_table_reporting_a_fault(state: DeviceState, fault: bool) -> None:
    pol = make()
    feed = Feed(pol)
    feed(50.0)
    feed(50.3, state=state)
    assert pol.faults == (
        [FaultRecord(FaultKind.DEVICE_FAULT, TICK, "table reports a fault")] if fault else []
    )


# --- SAF-10: latched until acknowledged -----------------------------------------------------
def test_saf10_faults_latch_until_acknowledged() -> None:
    pol = make()
    feed = Feed(pol)
    for _ in range(40):
        feed(noisy(40.0, feed.k), propose=40.0)
    feed(40.0, dx=5.0, propose=40.0)  # one encoder jump, then the cause is gone
    assert kinds(pol) == [FaultKind.ENCODER_JUMP]
    for _ in range(100):  # the force follows the release: no slip, no stall
        feed(noisy(feed.decisions[-1].force_n, feed.k), propose=40.0)
    assert kinds(pol) == [FaultKind.ENCODER_JUMP] and pol.releasing
    assert all(c.release and c.flags == ("fault",) for c in feed.decisions[40:])
    assert feed.decisions[-1].force_n == 0.0
    assert pol.acknowledge()
    assert not pol.faulted and pol.releasing is False and not pol.stopped
    # Back under the controller, rising from where the release left the table (0 N).
    d = pol.decide(Command(feed.now, 40.0, 20.0), feed.now)
    assert d.command == Command(feed.now, 1.0, 1.0)


def test_saf10_each_kind_is_recorded_once_in_order() -> None:
    pol = make()
    pol.fault(FaultKind.LOOP_OVERRUN, 1.0, "a")
    pol.fault(FaultKind.DEVICE_FAULT, 2.0, "b")
    pol.fault(FaultKind.LOOP_OVERRUN, 3.0, "c")
    assert pol.faults == [
        FaultRecord(FaultKind.LOOP_OVERRUN, 1.0, "a"),
        FaultRecord(FaultKind.DEVICE_FAULT, 2.0, "b"),
    ]
    assert pol.faulted and pol.releasing and not pol.stopped
    assert pol.faults[0].as_dict() == {"kind": "loop_overrun", "t_s": 1.0, "detail": "a"}
    assert FaultRecord(FaultKind.OVERFORCE, 1.23456, "x").as_dict()["t_s"] == 1.235


def test_saf10_a_held_stop_button_cannot_be_acknowledged() -> None:
    pol = make()
    feed = Feed(pol)
    feed(30.0, stop=True)
    pol.fault(FaultKind.HARNESS_SLIP, feed.now)
    assert not pol.acknowledge()
    assert pol.stopped and pol.faulted and pol.releasing
    assert pol.stop_requested_s == 0.0 and pol.stop_reason == "patient stop button"
    feed(30.5)  # released
    assert pol.acknowledge()
    assert not pol.stopped and not pol.faulted and not pol.releasing
    assert pol.stop_requested_s is None and pol.stop_reason == ""


def test_saf10_acknowledge_before_any_reading() -> None:
    pol = make()
    pol.request_stop(0.0)
    assert pol.stop_reason == "patient stop"  # the default reason
    assert pol.acknowledge() and pol.releasing is False
    pol.fault(FaultKind.TICK_EXCEPTION, 1.0)
    assert pol.faults == [FaultRecord(FaultKind.TICK_EXCEPTION, 1.0, "")]


def test_saf10_after_acknowledging_a_new_release_starts_from_the_new_command() -> None:
    pol = make()
    command_up_to(pol, 60.0)
    pol.request_stop(0.0)
    assert pol.decide(None, 0.0).command.force_n == 58.0  # 100 N/s
    assert pol.acknowledge()
    command_up_to(pol, 300.0)
    pol.request_stop(9.0)
    assert pol.decide(None, 9.0).command.force_n == 296.0  # 200 N/s, a new rate


def test_saf10_a_cause_that_persists_latches_again() -> None:
    pol = make(clinician=200.0)  # overforce above 215 N
    feed = Feed(pol)
    feed(216.0)
    feed(217.0)
    assert kinds(pol) == [FaultKind.OVERFORCE]
    assert pol.acknowledge()
    feed(216.0)
    assert not pol.faulted  # each count starts afresh after an acknowledgement
    feed(217.0)
    assert kinds(pol) == [FaultKind.OVERFORCE]


@pytest.mark.parametrize("check", ["stuck", "spike", "stall"])
def test_saf10_acknowledging_restarts_every_count(check: str) -> None:
    pol = make()
    if check == "stall":
        command_up_to(pol, 100.0)
    feed = Feed(pol, k=10_000)
    if check == "stuck":
        for _ in range(10):
            feed(50.0)
        assert pol.acknowledge()
        for _ in range(10):
            feed(50.0)
    elif check == "spike":
        feed(100.0)
        feed(200.0)
        assert pol.acknowledge()
        feed(100.0, dx=-0.1)
    else:
        for _ in range(25):
            feed(noisy(100.0, feed.k), winch=10.0, propose=100.0)
        for _ in range(20):  # 25 N off: above 20 N, a drop too small for a slip
            feed(noisy(75.0, feed.k), winch=10.0, propose=100.0)
        assert pol.acknowledge()
        for _ in range(20):
            feed(noisy(75.0, feed.k), winch=10.0, propose=100.0)
    assert not pol.faulted


# --- SAF-12: loop overrun -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("gap", "overrun"), [(0.020, False), (0.044, False), (0.046, True), (1.0, True)]
)
def test_saf12_a_pause_of_more_than_two_ticks_and_5_ms(gap: float, overrun: bool) -> None:
    pol = make()
    pol.check(Reading(1.0, 1, 50.0, 10.0, False), 1.0)
    pol.check(Reading(1.0 + gap, 2, 50.3, 10.01, False), 1.0 + gap)
    assert kinds(pol) == ([FaultKind.LOOP_OVERRUN] if overrun else [])
    if overrun:
        detail = f"tick gap {1000 * gap:.0f} ms"
        assert pol.faults == [FaultRecord(FaultKind.LOOP_OVERRUN, 1.0 + gap, detail)]


# --- Exactly at a threshold: each check fires strictly above its limit --------------------------
def test_saf4_saf8_a_force_exactly_at_a_threshold_is_no_fault() -> None:
    pol = make(clinician=200.0)
    assert pol.overforce_n == 215.0
    feed = Feed(pol)
    for _ in range(5):
        feed(215.0)  # 1.05 x 200 N + 5 N, not above it
    assert not pol.faulted
    pol = make()
    feed = Feed(pol)
    feed(0.0)
    feed(pol.force_jump_n)  # a step of exactly half the cap + 20 N
    assert not pol.faulted
    pol = make(weight=40.0)
    feed = Feed(pol)
    feed(0.0)
    feed(40.0)  # an excursion of exactly 40 N is no spike yet
    feed(0.0, dx=-0.1)
    assert not pol.faulted
    pol = make(weight=40.0)
    feed = Feed(pol)
    feed(0.0)
    feed(50.0)
    feed(15.0, dx=-0.1)  # back by exactly 70%: a spike
    assert kinds(pol) == [FaultKind.FORCE_JUMP]


def test_saf8_motion_exactly_at_a_threshold() -> None:
    pol = make()
    feed = Feed(pol)
    feed(100.0, winch=10.0)
    feed(100.3, winch=13.0)  # exactly 3.0 mm in one tick
    feed(200.0, winch=13.0)
    feed(150.0, winch=13.0)  # a drop of exactly 25% of 200 N with the winch holding
    assert not pol.faulted
    pol = make()
    feed = Feed(pol)
    feed(200.0, winch=0.1)
    feed(149.0, winch=0.05)  # paid out exactly 0.05 mm: still "holding"
    assert kinds(pol) == [FaultKind.HARNESS_SLIP]


def test_saf8_stall_exactly_at_its_thresholds_is_no_stall() -> None:
    # A tracking error of exactly 20 N (at 100 N, 15% is less): 120 N and 80 N in turn, the winch
    # paying out 0.06 mm on each fall (no slip) and so within 0.1 mm (standing still).
    pol = make()
    command_up_to(pol, 100.0)
    feed = Feed(pol, k=10_000)
    for i in range(60):
        feed(120.0 if i % 2 else 80.0, winch=10.0 if i % 2 else 9.94, propose=100.0)
    assert not pol.faulted
    # A winch moving exactly 0.1 mm is not standing still.
    pol = make()
    command_up_to(pol, 200.0)
    feed = Feed(pol, k=10_000)
    for i in range(60):
        feed(noisy(169.0, i), winch=0.2 if i % 2 else 0.1, propose=200.0)
    assert not pol.faulted


def test_saf7_saf12_exactly_at_the_time_limits() -> None:
    pol = make()
    pol.check(Reading(-(0.040 + 1e-6), 1, 50.0, 10.0, False), 0.0)  # 2 ticks + 1 us old
    pol.check(Reading(0.045, 2, 50.3, 10.01, False), 0.045)  # 2 ticks + 5 ms later
    assert not pol.faulted


def test_saf8_a_stall_from_the_first_readings_needs_25_ticks_too() -> None:
    pol = make()  # no command yet: a force of 30 N is 30 N off
    feed = Feed(pol)
    for _ in range(25):
        feed(noisy(30.0, feed.k), winch=10.0)
    assert not pol.faulted  # the first reading has nothing to compare with: 24 counted
    feed(30.0, winch=10.0)
    assert kinds(pol) == [FaultKind.ACTUATOR_STALL]


def test_a_new_policy_has_nothing_latched_and_holds_zero() -> None:
    pol = make(clinician=250.0)
    assert pol.faults == [] and pol.faulted is False
    assert pol.stopped is False and pol.releasing is False
    assert pol.stop_requested_s is None and pol.stop_reason == ""
    assert pol.last_command is None and pol.last_clamps == () and pol.clamp_counts == {}
    assert pol.clinician_max_force_n == 250.0
    Feed(pol)(10.0)
    d = pol.decide(None, 0.0)  # a reading but no proposal yet: hold zero, no release
    assert d.command == Command(0.0, 0.0, 0.0) and d.clamps == ()
