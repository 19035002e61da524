"""Posture analysis against the simulated wearers' ground truth: slumps within 1 s, wear time
within 2%, reminders only after the delay; the CSV edge; live and offline agree; days and weeks.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinecare.errors import InputError
from spinecare.signals.posture import (
    PostureAnalysis,
    PostureLive,
    PostureSettings,
    Reminder,
    Slump,
    WearPeriod,
    posture_analyze,
    posture_csv_format,
    posture_csv_parse,
    posture_daily,
    posture_weekly,
    reference_given,
)
from spinecare.sim.posture import SlumpEvent, WearerProfile, posture_simulate

SEEDS = [0, 1, 2, 3, 4]


@pytest.fixture(scope="module", params=SEEDS)
def wearer(request: pytest.FixtureRequest) -> tuple[object, object, PostureAnalysis, object]:
    rec, truth = posture_simulate(2400.0, 50.0, random_state=request.param)
    analysis, signals = posture_analyze(rec, PostureSettings(slump_deg=20.0, delay_s=60.0))
    return rec, truth, analysis, signals


def test_every_slump_is_detected_within_one_second(wearer: tuple) -> None:  # type: ignore[type-arg]
    rec, truth, analysis, _ = wearer
    onsets = truth.slump_onsets(20.0, rec.t_s)
    detected = [s.onset_s for s in analysis.slumps]
    assert len(detected) == len(onsets)
    for true_onset, found in zip(onsets, detected, strict=True):
        assert abs(found - true_onset) <= 1.0


def test_wear_time_within_two_percent(wearer: tuple) -> None:  # type: ignore[type-arg]
    _, truth, analysis, _ = wearer
    assert analysis.wear_time_s == pytest.approx(truth.wear_time_s, rel=0.02)
    assert len(analysis.wear_periods) == len(truth.wear_periods)


def test_reminders_only_after_the_delay(wearer: tuple) -> None:  # type: ignore[type-arg]
    rec, truth, analysis, _ = wearer
    for r in analysis.reminders:
        assert r.t_s - r.slump_onset_s > 60.0  # never during the delay
    # one reminder for each slump that stays above the threshold longer than the delay
    expected = []
    for s in truth.slumps:
        above = (rec.t_s >= s.onset_s) & (rec.t_s <= s.end_s) & (truth.forward_deg > 20.0)
        idx = np.flatnonzero(above)
        if idx.size and rec.t_s[idx[-1]] - rec.t_s[idx[0]] > 60.5:
            expected.append(float(rec.t_s[idx[0]]) + 60.0)
    got = [r.t_s for r in analysis.reminders]
    assert len(got) == len(expected)
    for e, g in zip(expected, got, strict=True):
        assert abs(g - e) <= 1.0


def test_upright_fraction_matches_the_truth(wearer: tuple) -> None:  # type: ignore[type-arg]
    _, truth, analysis, _ = wearer
    worn = ~np.isnan(truth.forward_deg)
    true_upright = np.mean(truth.forward_deg[worn] <= 20.0)
    assert analysis.upright_fraction == pytest.approx(true_upright, abs=0.02)
    assert analysis.calibration is not None
    assert analysis.calibration.source == "first_minute_of_wear"


def _scripted(hold_s: float, delay_s: float = 60.0) -> PostureAnalysis:
    rec, _ = posture_simulate(
        600.0,
        50.0,
        random_state=7,
        wear_periods=[(60.0, 540.0)],
        slumps=[SlumpEvent(onset_s=200.0, hold_s=hold_s, angle_deg=35.0, ramp_s=2.0)],
        walks=[],
        profile=WearerProfile(thoracic_inclination_deg=30.0, gyro_bias_dps=(0.2, -0.3, 0.1)),
    )
    return posture_analyze(rec, PostureSettings(slump_deg=20.0, delay_s=delay_s))[0]


def test_a_slump_shorter_than_the_delay_raises_no_reminder() -> None:
    a = _scripted(hold_s=50.0)
    assert len(a.slumps) == 1 and a.reminders == []


def test_a_slump_longer_than_the_delay_raises_one_reminder_after_it() -> None:
    a = _scripted(hold_s=100.0)
    (slump,) = a.slumps
    (reminder,) = a.reminders
    assert 200.0 < slump.onset_s < 202.0  # ramp of 2 s to 35 deg crosses 20 deg within it
    assert reminder.t_s == pytest.approx(slump.onset_s + 60.0, abs=0.05)
    assert reminder.angle_deg > 20.0
    # with a longer delay than the slump lasts, none
    assert _scripted(hold_s=100.0, delay_s=120.0).reminders == []


def test_a_given_reference_and_a_calibration_window() -> None:
    rec, truth = posture_simulate(
        600.0, 50.0, random_state=3, wear_periods=[(30.0, 570.0)], slumps=[], walks=[]
    )
    first, _ = posture_analyze(rec)
    assert first.calibration is not None
    again, _ = posture_analyze(rec, reference=reference_given(first.calibration.up))
    assert again.calibration is not None and again.calibration.source == "given"
    assert again.upright_fraction == pytest.approx(1.0)
    window, _ = posture_analyze(rec, calibrate_at_s=300.0)
    assert window.calibration is not None and window.calibration.source == "window"
    with pytest.raises(InputError, match="calibrate_at"):
        posture_analyze(rec, calibrate_at_s=575.0)  # back on the table
    with pytest.raises(InputError, match="reference"):
        reference_given([0.0, 0.0, 0.0])
    # kyphosis proxy: the sensor's inclination, within a few degrees of the simulated one
    assert first.calibration.thoracic_inclination_deg == pytest.approx(
        truth.profile.thoracic_inclination_deg, abs=4.0
    )
    assert "Debrunner" in first.accuracy


def test_never_worn_gives_no_fraction_and_no_reminders() -> None:
    rec, _ = posture_simulate(300.0, 25.0, random_state=1, wear_periods=[], slumps=[], walks=[])
    a, _ = posture_analyze(rec)
    assert a.wear_time_s == 0.0 and a.upright_fraction is None and a.reminders == []
    assert a.calibration is None


def test_live_monitor_reminds_when_the_offline_analysis_does() -> None:
    rec, _ = posture_simulate(
        600.0,
        50.0,
        random_state=11,
        wear_periods=[(30.0, 580.0)],
        slumps=[
            SlumpEvent(onset_s=200.0, hold_s=90.0, angle_deg=35.0),
            SlumpEvent(onset_s=400.0, hold_s=20.0, angle_deg=35.0),
        ],
        walks=[],
    )
    offline, _ = posture_analyze(rec)
    live = PostureLive(50.0)
    events = []
    for i in range(rec.t_s.size):
        events += live.update(float(rec.t_s[i]), rec.acc[i], rec.gyr[i])
    kinds = [e.kind for e in events]
    assert kinds.count("calibrated") == 1 and kinds.count("slump") == 2
    reminders = [e.t_s for e in events if e.kind == "reminder"]
    assert len(reminders) == len(offline.reminders) == 1
    assert reminders[0] == pytest.approx(offline.reminders[0].t_s, abs=1.0)


# --- the CSV edge ---------------------------------------------------------------------------------
def test_csv_round_trip() -> None:
    rec, _ = posture_simulate(30.0, 100.0, random_state=2, wear_periods=[(0.0, 30.0)], slumps=[])
    back = posture_csv_parse(posture_csv_format(rec))
    assert back.t_s.size == rec.t_s.size
    assert np.allclose(back.acc, rec.acc, atol=1e-6) and np.allclose(back.gyr, rec.gyr, atol=1e-6)
    assert back.rate_hz == pytest.approx(100.0)


def _csv(rate: float, n: int) -> str:
    return "t_s,ax,ay,az,gx,gy,gz\n" + "".join(f"{i / rate},9.81,0,0,0,0,0\n" for i in range(n))


GOOD = "t_s,ax,ay,az,gx,gy,gz\n" + "".join(f"{i / 50:.2f},9.81,0,0,0.1,0,0\n" for i in range(200))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("time,ax,ay,az,gx,gy,gz\n0,1,2,3,4,5,6\n", "header"),
        ("t_s,ax,ay,az,gx,gy\n0,1,2,3,4,5\n", "header"),
        ("t_s,ax,ay,az,gx,gy,gz\n", "no samples"),
        (GOOD + "4.00,9.81,zero,0,0,0,0\n", "line 202: not numeric"),
        (GOOD + "4.00,9.81,0,0,0,0\n", "line 202: 6 columns"),
        (GOOD.replace("1.00,9.81", "1.00,nan", 1), "not a finite number"),
        (GOOD.replace("\n1.00,", "\n0.50,", 1), "time does not increase"),
        (GOOD.replace(",0.1,0,0\n", ",5000,0,0\n", 1), "deg/s"),
        (GOOD.replace("9.81", "981.0"), "m/s"),
        (_csv(10.0, 100), "sampling rate"),
        (_csv(1000.0, 5000), "sampling rate"),
        (_csv(50.0, 50), "shorter than 2 s"),
    ],
)  # fmt: skip
def test_hostile_csv_is_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        posture_csv_parse(text)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="t_saxyzg,0123456789.-+eEnaif \n", max_size=400))
def test_any_text_is_parsed_or_refused_with_an_input_error(text: str) -> None:
    with contextlib.suppress(InputError):
        posture_csv_parse("t_s,ax,ay,az,gx,gy,gz\n" + text)


def test_settings_outside_the_trainers_ranges_are_refused() -> None:
    with pytest.raises(InputError, match="slump_deg"):
        PostureSettings(slump_deg=2.0)
    with pytest.raises(InputError, match="delay_s"):
        PostureSettings(delay_s=1.0)
    with pytest.raises(InputError, match="rate"):
        PostureLive(10.0)


# --- days and weeks (hand-computed) ---------------------------------------------------------------
Spans = list[tuple[float, float]]


def _analysis(periods: Spans, slumps: Spans, reminders: list[float]) -> PostureAnalysis:
    wear = sum(b - a for a, b in periods)
    slumped = sum(b - a for a, b in slumps)
    return PostureAnalysis(
        samples=1,
        rate_hz=50.0,
        duration_s=max(b for _, b in periods),
        wear_time_s=wear,
        upright_time_s=wear - slumped,
        slumped_time_s=slumped,
        upright_fraction=(wear - slumped) / wear,
        wear_periods=[WearPeriod(start_s=a, end_s=b) for a, b in periods],
        slumps=[Slump(onset_s=a, end_s=b, peak_deg=30.0, reminded_s=None) for a, b in slumps],
        reminders=[Reminder(t_s=t, slump_onset_s=t - 60, angle_deg=30.0) for t in reminders],
        calibration=None,
        settings={},
    )


def test_daily_summary_splits_at_local_midnight_and_compares_with_the_plan() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 2026-12-01 23:00 local = 22:00 UTC; worn 23:00-01:00 local, slumped 23:50-00:10
    start = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)
    an = _analysis([(0.0, 7200.0)], [(3000.0, 4200.0)], [3060.0, 4000.0])
    plan = {date(2026, 12, 1): 3600.0, date(2026, 12, 2): 7200.0, date(2026, 12, 3): 7200.0}
    days = posture_daily([(start, an)], berlin, plan)
    assert [d.day for d in days] == [date(2026, 12, 1), date(2026, 12, 2)]  # not past the last
    d1, d2 = days
    assert d1.wear_time_s == 3600.0 and d1.wear_vs_plan == 1.0
    assert d1.upright_time_s == 3000.0 and d1.reminders == 1
    assert d2.wear_time_s == 3600.0 and d2.wear_vs_plan == 0.5
    assert d2.upright_time_s == 3000.0 and d2.reminders == 1
    (week,) = posture_weekly(days)
    assert week.week == "2026-W49" and week.days == 2
    assert week.mean_wear_time_s == 3600.0 and week.mean_wear_vs_plan == 0.75
    assert week.upright_fraction == pytest.approx(6000 / 7200, abs=1e-4)
    assert week.reminders_per_wear_hour == 1.0


def test_daily_summary_counts_planned_days_without_wear() -> None:
    zone = ZoneInfo("Europe/Berlin")
    d0 = datetime(2026, 12, 7, 9, 0, tzinfo=zone)
    an = _analysis([(0.0, 3600.0)], [], [])
    plan = {date(2026, 12, 7) + timedelta(days=i): 3600.0 for i in range(3)}
    days = posture_daily([(d0, an), (d0 + timedelta(days=2), an)], zone, plan)
    assert [d.wear_time_s for d in days] == [3600.0, 0.0, 3600.0]
    assert days[1].wear_vs_plan == 0.0 and days[1].upright_fraction is None
    with pytest.raises(InputError):
        posture_daily([(datetime(2026, 12, 7, 9, 0), an)], zone)


# --- property: any scripted wearer ----------------------------------------------------------------
@settings(max_examples=12, deadline=None)
@given(
    rate=st.sampled_from([25.0, 50.0, 100.0, 200.0]),
    inclination=st.floats(10.0, 45.0),
    mount=st.floats(-20.0, 20.0),
    bias=st.tuples(*[st.floats(-1.0, 1.0)] * 3),
    slumps=st.lists(
        st.tuples(st.floats(5.0, 150.0), st.floats(26.0, 50.0), st.floats(1.0, 3.0)),
        min_size=1,
        max_size=3,
    ),
    seed=st.integers(0, 2**16),
)
def test_scripted_wearers_slumps_wear_and_reminders(
    rate: float,
    inclination: float,
    mount: float,
    bias: tuple[float, float, float],
    slumps: list[tuple[float, float, float]],
    seed: int,
) -> None:
    """Slumps found within 1 s, wear within 2%, a reminder exactly for the slumps above the
    threshold longer than the delay, never during it: for any mounting, bias and rate."""
    events, t = [], 150.0  # worn from 30 s; upright for the calibration minute and after
    for hold, angle, ramp in slumps:
        events.append(SlumpEvent(onset_s=t, hold_s=hold, angle_deg=angle, ramp_s=ramp))
        t = events[-1].end_s + 40.0
    end = t + 30.0
    rec, truth = posture_simulate(
        end + 90.0, rate, random_state=seed, wear_periods=[(30.0, end)], slumps=events,
        walks=[], profile=WearerProfile(
            thoracic_inclination_deg=inclination, mount_rotation_deg=mount, gyro_bias_dps=bias
        ),
    )  # fmt: skip
    a, _ = posture_analyze(rec, PostureSettings(slump_deg=20.0, delay_s=60.0))
    assert a.wear_time_s == pytest.approx(truth.wear_time_s, rel=0.02)
    onsets = truth.slump_onsets(20.0, rec.t_s)
    assert len(a.slumps) == len(onsets) == len(events)
    for s, o in zip(a.slumps, onsets, strict=True):
        assert abs(s.onset_s - o) <= 1.0
    for r in a.reminders:
        assert r.t_s - r.slump_onset_s > 60.0
    # above 20 deg for longer than the delay, with a margin of the detection tolerance
    long = [e for e in events if e.hold_s + e.ramp_s > 61.0]
    short = [e for e in events if e.hold_s + 2 * e.ramp_s < 59.0]
    reminded = {round(r.slump_onset_s) for r in a.reminders}
    assert len(a.reminders) >= len(long)
    assert len(a.reminders) <= len(events) - len(short)
    assert len(reminded) == len(a.reminders)
