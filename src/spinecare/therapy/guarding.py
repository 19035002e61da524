"""Counter-tension (muscle guarding) detection from the force signal.

With the table's drive holding the cable force, paraspinal counter-tension pulls the patient
back: at a given winch position the harness force rises, and the drive pays cable out to hold
it. Either way the force rises *more than the passive response to the winch motion predicts*.
The detector integrates the per-tick residual ``dF - k * dx``, where ``k`` (N/mm) is the
passive stiffness learned while the pull rises (and, separately, while it falls: unloading is
softer, viscoelastic hysteresis), into an "unexplained force" level and compares it with a
reference that tracks slow drift (creep, the remaining stiffness error) while a contraction, a
step within 20-40 ms, stands out. The alarm rises when the level stands a few noise SDs above
the reference, or, while the pull is not being lowered, when the drive starts paying out cable
from a still winch and the level stands high: the patient pulling back against a steady target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ForceGuardingSettings:
    # Prior for the passive stiffness seen at the winch, N/mm; replaced within the first ramp.
    # Harness and soft tissue in series with the spine: 5-40 N/mm (sim/population.py ranges).
    prior_stiffness_n_mm: float = 15.0
    # Winch travel (mm) a stiffness estimate needs before it is trusted.
    learn_min_travel_mm: float = 0.4
    # Smoothing of the learned stiffness (per accepted estimate).
    learn_rate: float = 0.2
    # Reference tracking per tick (time constant 5 ticks = 0.1 s), slower than a contraction's
    # 20-40 ms rise (sim/population.py), fast enough that a stiffness error during a ramp
    # leaves little lag.
    level_rate: float = 0.2
    # While the level stands high the reference follows ten times slower: a contraction
    # (seconds) stays visible, a slow recoil after unloading (minutes) is still absorbed.
    held_factor: float = 0.1
    # Alarm thresholds in SDs of the level's noise. Engineering choice from the simulated cohort
    # (bench/b2_guarding_response.py): above 5 SD at once (Gaussian tail 3e-7 per tick, < 0.05
    # false stops in a 30-minute session), or above 3.5 SD on 2 ticks in a row ((2.3e-4)^2 =
    # 5e-8 per tick) so that contractions that barely become measurable are caught too.
    threshold_sd: float = 5.0
    persist_sd: float = 3.5
    persist_ticks: int = 2
    # ... or whose mean over the last 5 ticks exceeds 2.7 SD (6 SD of a 5-sample mean, about
    # 1e-9 per tick): small sustained contractions, just measurable, are caught within 100 ms.
    mean_sd: float = 2.7
    mean_ticks: int = 5
    # ... or the drive has paid out 0.03 mm of cable since the winch was last still or drawing
    # in (0.2 s), while the pull is not being lowered and the level stands 2 SD high. With the
    # target steady the drive pays out only when the patient pulls back; the force it gives way
    # to never shows in full. Engineering choice from the simulated cohort
    # (bench/b2_guarding_response.py): it took the 95th percentile from measurable from 53 to
    # 35 ms at the same false stops.
    payout_mm: float = 0.03
    payout_sd: float = 2.0
    still_ticks: int = 10
    # Noise assumed before it has been measured, N (load-cell SD); samples measured before the
    # estimate is trusted; afterwards it keeps tracking slowly (time constant 1500 ticks = 30 s).
    prior_noise_n: float = 1.5
    noise_learn_ticks: int = 200
    noise_track_rate: float = 1.0 / 1500.0
    # Never trust a measured noise below this, N: a quiet load cell must not hair-trigger.
    min_noise_n: float = 0.25


@dataclass(slots=True)
class ForceGuardingUpdate:
    alarm: bool
    score: float  # unexplained force above the prediction, N (the "muscle tension" shown)


class ForceGuardingDetector:
    """Streaming detector; feed one (force, winch) pair per 20 ms tick."""

    def __init__(self, settings: ForceGuardingSettings | None = None) -> None:
        self.s = settings or ForceGuardingSettings()
        self.stiffness_n_mm = self.s.prior_stiffness_n_mm
        self.stiffness_learned = False
        self.unloading_stiffness_n_mm: float | None = None
        self._prev_f: float | None = None
        self._prev_x = 0.0
        self._level = 0.0
        self._ref = 0.0
        self._dev = 0.0
        self._above = 0
        self._recent = [0.0] * self.s.mean_ticks
        self._recent_i = 0
        self._recent_sum = 0.0
        self._payout = 0.0
        self._still = 0
        # Noise of the level around its prediction: Welford at first, then a slow EWMA.
        self._n = 0
        self._mean = 0.0
        self._m2 = 0.0
        self._var = 0.0
        self._since_noise = 0
        self.noise_sd_n = self.threshold_n = self.persist_n = self.mean_n = 0.0
        self._set_noise(2.0 * self.s.prior_noise_n)
        # Stiffness learning over a window of monotone winch travel.
        self._win_f0: float | None = None
        self._win_x0 = 0.0

    @property
    def quiet(self) -> bool:
        """No unexplained force to speak of: safe to learn the passive stiffness from."""
        return self._dev < 0.5 * self.persist_n

    @property
    def noise_learned(self) -> bool:
        return self._n >= self.s.noise_learn_ticks

    def _set_noise(self, sd: float) -> None:
        self.noise_sd_n = max(sd, self.s.min_noise_n)
        self.threshold_n = self.s.threshold_sd * self.noise_sd_n
        self.persist_n = self.s.persist_sd * self.noise_sd_n
        self.mean_n = self.s.mean_sd * self.noise_sd_n

    def observe_noise(self) -> None:
        """Learn the noise from the last tick (pretension, before any distraction).

        Until ``noise_learn_ticks`` samples are in, the thresholds use twice the larger of the
        prior and the running estimate, so an unusually noisy load cell cannot cause a false
        stop in the first seconds.
        """
        if self._prev_f is None or self.noise_learned:
            return
        d = self._dev
        self._n += 1
        delta = d - self._mean
        self._mean += delta / self._n
        self._m2 += delta * (d - self._mean)
        if self._n < 5:
            return
        var = self._m2 / (self._n - 1)
        if self.noise_learned:
            self._var = var
            self._set_noise(math.sqrt(var))
        else:
            self._set_noise(2.0 * max(math.sqrt(var), self.s.prior_noise_n))

    def learn_stiffness(self, force_n: float, winch_mm: float) -> None:
        """Update the passive stiffness while the pull rises and no guarding is present."""
        if self._win_f0 is None:
            self._win_f0, self._win_x0 = force_n, winch_mm
            return
        dx = winch_mm - self._win_x0
        if dx >= self.s.learn_min_travel_mm:
            k = (force_n - self._win_f0) / dx
            if 1.0 < k < 500.0:
                if self.stiffness_learned:
                    self.stiffness_n_mm += self.s.learn_rate * (k - self.stiffness_n_mm)
                else:
                    self.stiffness_n_mm = k
                    self.stiffness_learned = True
            self._win_f0, self._win_x0 = force_n, winch_mm

    def learn_unloading(self, force_n: float, winch_mm: float) -> None:
        """Learn the (softer) stiffness while the pull falls and no guarding is present."""
        if self._win_f0 is None:
            self._win_f0, self._win_x0 = force_n, winch_mm
            return
        dx = winch_mm - self._win_x0
        if dx <= -self.s.learn_min_travel_mm:
            k = (force_n - self._win_f0) / dx
            if 1.0 < k < 500.0:
                k0 = self.unloading_stiffness_n_mm
                self.unloading_stiffness_n_mm = (
                    k if k0 is None else k0 + self.s.learn_rate * (k - k0)
                )
            self._win_f0, self._win_x0 = force_n, winch_mm

    def reset_learning_window(self) -> None:
        self._win_f0 = None

    def update(
        self, force_n: float, winch_mm: float, unloading_scale: float | None = None
    ) -> ForceGuardingUpdate:
        """One tick.

        While the pull is being lowered (``unloading_scale`` given), the stiffness changes along
        the ramp and the residual drifts: the reference then always follows at full rate and
        all thresholds are multiplied by the scale. Contractions still stand out; slow drift
        cannot cause a stop.
        """
        s = self.s
        unloading = unloading_scale is not None
        scale = unloading_scale if unloading_scale is not None else 1.0
        if self._prev_f is None:
            self._prev_f, self._prev_x = force_n, winch_mm
            return ForceGuardingUpdate(False, 0.0)
        dx = winch_mm - self._prev_x
        k = self.stiffness_n_mm
        if dx < 0.0 and self.unloading_stiffness_n_mm is not None:
            k = self.unloading_stiffness_n_mm
        self._level += (force_n - self._prev_f) - k * dx
        self._prev_f, self._prev_x = force_n, winch_mm
        dev = self._level - self._ref
        self._dev = dev
        self._above = self._above + 1 if dev > self.persist_n * scale else 0
        i = self._recent_i
        self._recent_sum += dev - self._recent[i]
        self._recent[i] = dev
        self._recent_i = (i + 1) % s.mean_ticks
        # The drive paying cable out while the pull is not being lowered: the patient pulls back.
        # Only a payout that starts from a still or inward-moving winch counts (after a ramp down
        # the drive may still be paying out for a moment).
        if dx < 0.0 and not unloading:
            if self._payout < 0.0 or self._still >= s.still_ticks:
                self._payout += dx
            self._still = 0
        else:
            self._payout = 0.0
            self._still = 0 if unloading else self._still + 1
        alarm = (
            dev > self.threshold_n * scale
            or self._above >= s.persist_ticks
            or self._recent_sum > s.mean_ticks * self.mean_n * scale
            or (-self._payout >= s.payout_mm and dev > s.payout_sd * self.noise_sd_n)
        )
        quiet = unloading or dev < 0.5 * self.persist_n
        self._ref += s.level_rate * (1.0 if quiet else s.held_factor) * dev
        if not alarm and self._above == 0 and self.noise_learned:
            # Keep tracking the noise (it grows with force: drive and harness dynamics),
            # clipped at 3 SD so that events cannot inflate it.
            d2 = min(dev * dev, 9.0 * self._var)
            self._var += s.noise_track_rate * (d2 - self._var)
            self._since_noise += 1
            if self._since_noise >= 25:  # thresholds follow twice a second: plenty for 30 s
                self._since_noise = 0
                self._set_noise(math.sqrt(self._var))
        return ForceGuardingUpdate(alarm, dev if dev > 0.0 else 0.0)

    def clear(self) -> None:
        """Take the present level as the new passive reference once the muscles have relaxed."""
        self._ref = self._level
        self._dev = 0.0
        self._above = 0
        self._recent = [0.0] * self.s.mean_ticks
        self._recent_sum = 0.0
        self._payout = 0.0
