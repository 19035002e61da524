"""Counter-tension (muscle guarding) detection from the force signal.

With the table's drive holding the cable force, paraspinal counter-tension pulls the patient
back: at a given winch position the harness force rises, and the drive pays cable out to hold
it. Either way the force rises *more than the passive response to the winch motion predicts*.
Per tick the residual ``dF - k * dx`` compares the measured force change with the passive
stiffness ``k`` (N/mm) learned while the pull rises in the first cycles; a one-sided CUSUM on
that residual (Page 1954) raises the alarm as soon as the accumulated excess stands above the
load-cell noise. Creep only ever lowers the residual (the spine lengthens: the drive draws cable
in without a force rise), so slow viscoelastic drift cannot cause a false stop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ForceGuardingSettings:
    # Prior for the passive stiffness seen at the winch, N/mm; replaced within the first ramp.
    # Harness and soft tissue in series with the spine: 10-40 N/mm (sim/patient_model.py ranges).
    prior_stiffness_n_mm: float = 15.0
    # Winch travel (mm) a stiffness estimate needs before it is trusted.
    learn_min_travel_mm: float = 0.4
    # Smoothing of the learned stiffness (per accepted estimate).
    learn_rate: float = 0.2
    # CUSUM allowance per tick and alarm threshold, in units of the per-tick force-noise SD.
    # Engineering choice from the simulated cohort: a 5-SD threshold with a 0.75-SD allowance
    # gives < 1 false stop per 30-minute session and a one- to two-tick detection delay.
    drift_sd: float = 0.75
    threshold_sd: float = 5.5
    # Leak of the CUSUM per tick so that isolated noise excursions do not add up over minutes.
    leak: float = 0.9
    # Noise floor assumed before the rest noise has been measured, N (load-cell SD).
    prior_noise_n: float = 1.5
    noise_learn_ticks: int = 50


@dataclass(slots=True)
class ForceGuardingUpdate:
    alarm: bool
    score: float  # CUSUM, in newtons of unexplained force rise (the "muscle tension" shown)
    residual_n: float


class ForceGuardingDetector:
    """Streaming detector; feed one (force, winch) pair per 20 ms tick."""

    def __init__(self, settings: ForceGuardingSettings | None = None) -> None:
        self.s = settings or ForceGuardingSettings()
        self.stiffness_n_mm = self.s.prior_stiffness_n_mm
        self.stiffness_learned = False
        self._prev_f: float | None = None
        self._prev_x = 0.0
        self._cusum = 0.0
        # Noise of the per-tick force difference, learned at rest (Welford).
        self._n = 0
        self._mean = 0.0
        self._m2 = 0.0
        self._diff_sd = self.s.prior_noise_n * math.sqrt(2.0)
        # Stiffness learning over a window of monotone winch travel.
        self._win_f0: float | None = None
        self._win_x0 = 0.0

    @property
    def noise_sd_n(self) -> float:
        """SD of the per-tick force difference (about sqrt(2) x the load-cell noise)."""
        return self._diff_sd

    @property
    def threshold_n(self) -> float:
        return self.s.threshold_sd * self._diff_sd

    def observe_rest(self, force_n: float) -> None:
        """Learn the force noise while the cable force is held steady (pretension hold)."""
        if self._prev_f is not None:
            d = force_n - self._prev_f
            self._n += 1
            delta = d - self._mean
            self._mean += delta / self._n
            self._m2 += delta * (d - self._mean)
            if self._n >= self.s.noise_learn_ticks:
                # Never trust a noise estimate below the prior's fifth: a quiet load cell must
                # not make the detector hair-trigger.
                sd = math.sqrt(self._m2 / (self._n - 1))
                self._diff_sd = max(sd, 0.2 * self.s.prior_noise_n * math.sqrt(2.0))

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
            return ForceGuardingUpdate(False, 0.0, 0.0)
        residual = (force_n - self._prev_f) - self.stiffness_n_mm * (winch_mm - self._prev_x)
        self._prev_f, self._prev_x = force_n, winch_mm
        drift = self.s.drift_sd * self._diff_sd
        self._cusum = max(0.0, self.s.leak * self._cusum + residual - drift)
        return ForceGuardingUpdate(self._cusum > self.threshold_n, self._cusum, residual)

    def clear(self) -> None:
        """Forget the accumulated excess once the muscles have relaxed."""
        self._cusum = 0.0
