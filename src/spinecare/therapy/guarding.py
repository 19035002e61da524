"""Counter-tension (muscle guarding) detection from the force signal.

With the table's drive holding the cable force, paraspinal counter-tension pulls the patient
back: at a given winch position the harness force rises, and the drive pays cable out to hold
it. Either way the force rises *more than the passive response to the winch motion predicts*.
The detector integrates the per-tick residual ``dF - k * dx``, where ``k`` (N/mm) is the
passive stiffness learned while the pull rises, into an "unexplained force" level, and compares
it with a slowly tracking reference. The alarm rises when the level stands more than a few
noise SDs above the reference. Creep only lowers the level (the spine lengthens, the drive
draws cable in without a force rise), and the reference follows slow drift, so slow
viscoelastic changes do not cause false stops.
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
    # Reference tracking per tick (time constant 10 ticks = 0.2 s): absorbs model error during
    # ramps and creep, far slower than a contraction's 20-40 ms rise (sim/population.py).
    reference_rate: float = 0.1
    held_rate: float = 0.01
    # Alarm threshold in SDs of the level's noise at rest. Engineering choice from the simulated
    # cohort (bench/b2): 5 SD gives about 3e-7 false alarms per tick on Gaussian noise
    # (< 0.05 per 30-minute session) while contractions cross it within a tick of
    # becoming measurable (3 SD).
    threshold_sd: float = 5.0
    # Noise assumed before it has been measured, N (load-cell SD), and how long it is measured.
    prior_noise_n: float = 1.5
    noise_learn_ticks: int = 50
    # Never trust a measured noise below this, N: a quiet load cell must not hair-trigger.
    min_noise_n: float = 0.25


@dataclass(slots=True)
class ForceGuardingUpdate:
    alarm: bool
    score: float  # unexplained force above the reference, N (the "muscle tension" shown)


class ForceGuardingDetector:
    """Streaming detector; feed one (force, winch) pair per 20 ms tick."""

    def __init__(self, settings: ForceGuardingSettings | None = None) -> None:
        self.s = settings or ForceGuardingSettings()
        self.stiffness_n_mm = self.s.prior_stiffness_n_mm
        self.stiffness_learned = False
        self._prev_f: float | None = None
        self._prev_x = 0.0
        self._level = 0.0
        self._ref = 0.0
        self._dev = 0.0
        # Noise of the level around its reference, learned at rest (Welford).
        self._n = 0
        self._mean = 0.0
        self._m2 = 0.0
        self.noise_sd_n = self.s.prior_noise_n
        self.threshold_n = self.s.threshold_sd * self.noise_sd_n
        # Stiffness learning over a window of monotone winch travel.
        self._win_f0: float | None = None
        self._win_x0 = 0.0

    def observe_rest(self) -> None:
        """Learn the noise from the last tick, taken while the force is held steady."""
        if self._prev_f is None:
            return
        d = self._dev
        self._n += 1
        delta = d - self._mean
        self._mean += delta / self._n
        self._m2 += delta * (d - self._mean)
        if self._n >= self.s.noise_learn_ticks:
            sd = math.sqrt(self._m2 / (self._n - 1))
            self.noise_sd_n = max(sd, self.s.min_noise_n)
            self.threshold_n = self.s.threshold_sd * self.noise_sd_n

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

    def reset_learning_window(self) -> None:
        self._win_f0 = None

    def update(self, force_n: float, winch_mm: float) -> ForceGuardingUpdate:
        if self._prev_f is None:
            self._prev_f, self._prev_x = force_n, winch_mm
            return ForceGuardingUpdate(False, 0.0)
        self._level += (force_n - self._prev_f) - self.stiffness_n_mm * (winch_mm - self._prev_x)
        self._prev_f, self._prev_x = force_n, winch_mm
        dev = self._level - self._ref
        self._dev = dev
        alarm = dev > self.threshold_n
        # While the level stands high the reference follows ten times slower: a contraction
        # (seconds) stays visible, a slow recoil of the spine after unloading (minutes) is
        # still absorbed, so the alarm cannot hang.
        rate = self.s.reference_rate if dev < 0.5 * self.threshold_n else self.s.held_rate
        self._ref += rate * dev
        return ForceGuardingUpdate(alarm, dev if dev > 0.0 else 0.0)

    def clear(self) -> None:
        """Take the present level as the new passive reference once the muscles have relaxed."""
        self._ref = self._level
        self._dev = 0.0
