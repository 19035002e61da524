"""Virtual patients: every physical and physiological parameter drawn from a seeded generator.

The draws happen in a fixed order and always consume the same random numbers, whatever the
arguments: the same seed is the same person in every session of a course (only the
session-dependent pain tolerance changes) and with or without an explicit weight or region.
"""

from __future__ import annotations

import numpy as np

from spinecare.sim.patient_model import PatientParams
from spinecare.vocab import G, Region

# Body weight range of the virtual clinic (engineering choice: light adults to heavy ones, the span
# the closed-loop tests must cover); triangular with its mode near the adult mean.
WEIGHT_MIN_KG = 45.0
WEIGHT_MODE_KG = 78.0
WEIGHT_MAX_KG = 140.0

# Segment masses (Dempster's segment data [winter2009], table 4.1). Lumbar: the lower body, the
# part a lumbar pull drags along the table [lee-evans2001], is about half the body weight (thighs,
# shanks and feet 32.2% plus the pelvis). Cervical: head and neck 8.1% of body mass.
LOWER_BODY_FRACTION = 0.5
HEAD_FRACTION = 0.081

# Ranges (low, high) per region. Sources in the comments; where nothing has been measured the
# range is an engineering choice, with its reason.
_RANGES: dict[Region, dict[str, tuple[float, float]]] = {
    Region.LUMBAR: {
        # Harness + soft tissue stiffness, N/mm (engineering choice: a padded pelvic belt over soft
        # tissue, a few mm of stretch per 100 N).
        "harness_k": (15.0, 40.0),
        # Immediate (elastic) lengthening at 1/3 body weight, mm. Engineering choice: spine,
        # ligaments and hip soft tissue together; gives 10-34 N/mm at the winch, the range
        # therapy/guarding.py expects.
        "fast_mm_at_dose": (3.0, 6.0),
        # Creep at 1/3 BW (asymptote), mm, and its time constant, s: +8.9 mm stature after
        # 25 min at 1/3 BW, fastest in the first 15 min [bridger1990].
        "creep_mm_at_dose": (7.0, 11.0),
        "creep_tau": (180.0, 480.0),
        # Residual rolling friction of a split table (the split removes most friction
        # [lee-evans2001]; the residual is an engineering choice).
        "split_mu": (0.03, 0.07),
        # Paraspinal counter-tension at full activation, x body-weight force (engineering choice:
        # of the order of the pull itself, so full guarding can stall the distraction).
        "muscle_max_bw": (0.25, 0.40),
        # Stretch-reflex threshold on the harness force rate, N/s (engineering choice: above the
        # 15 N/s lumbar ramp of therapy/protocol.py; SAF-5 allows up to 50 N/s).
        "reflex_thr": (40.0, 90.0),
        # Pain tolerance at session 1, x BW force, and its rise per session (engineering choice:
        # around the starting dose, rising as the force does over a course [seed-spinemed]).
        "tol_bw": (0.30, 0.60),
        "tol_step_bw": (0.015, 0.03),
        # Load-cell noise SD, N (engineering choice: 0.05-0.2% of a 1 kN strain-gauge cell).
        "sigma": (0.5, 2.0),
    },
    Region.CERVICAL: {
        # Halter on the occiput and chin: softer than the lumbar harness (engineering choice),
        # stiff enough that the drive releases the device limit within 2 s.
        "harness_k": (8.0, 15.0),
        # Immediate lengthening at 10% body weight, mm (engineering choice; 10% BW is the best
        # cervical dose [akinbo2006]).
        "fast_mm_at_dose": (1.2, 2.5),
        "creep_mm_at_dose": (1.5, 4.0),
        "creep_tau": (180.0, 480.0),
        "split_mu": (0.03, 0.07),
        "muscle_max_bw": (0.08, 0.12),
        "reflex_thr": (12.0, 25.0),
        "tol_bw": (0.08, 0.16),
        "tol_step_bw": (0.003, 0.008),
        "sigma": (0.3, 1.0),
    },
}
# Dose at which the spine ranges above are stated, x BW: 1/3 lumbar, the traditional dose and the
# one measured by [bridger1990]; 10% cervical [akinbo2006].
_DOSE_BW = {Region.LUMBAR: 1.0 / 3.0, Region.CERVICAL: 0.10}

# Region-independent ranges.
# Paraspinal activation dynamics: rise 20-40 ms, relax 150-400 ms, electromechanical delay
# 10-30 ms by which EMG leads force (engineering choices of the order that first-order muscle
# activation models use: deactivation slower than activation).
RISE_TAU_S = (0.020, 0.040)
RELAX_TAU_S = (0.150, 0.400)
EMD_S = (0.010, 0.030)
# Reflex burst size (fraction of max) and duration: engineering choice.
REFLEX_AMPLITUDE = (0.30, 0.60)
REFLEX_DURATION_S = (0.20, 0.50)
# Refractory time after an event, s (engineering choice: one stimulus gives one event).
REFRACTORY_S = (0.8, 1.2)
# Sustained guarding while the force stays above tolerance (fraction of max), the hysteresis
# (fraction of tolerance) and the perception delay before guarding starts: engineering choices.
PAIN_AMPLITUDE = (0.50, 0.80)
PAIN_HYSTERESIS = (0.03, 0.08)
PAIN_DELAY_S = (0.15, 0.40)
# Spontaneous events (cough, shifting, anxiety), per minute (engineering choice: a few in a
# 30-minute session).
SPONTANEOUS_PER_MIN = (0.1, 0.4)
# Surface EMG: baseline 3-8 uV RMS, 50-300 uV RMS at full activation, small mains hum
# (engineering choice, well within the few mV surface EMG reaches [deluca1997]).
EMG_BASELINE_UV = (3.0, 8.0)
EMG_GAIN_UV = (50.0, 300.0)
EMG_MAINS_UV = (1.0, 3.0)


def virtual_patient(
    seed: int,
    *,
    region: Region | str | None = None,
    weight_kg: float | None = None,
    session_number: int = 1,
) -> PatientParams:
    """One reproducible virtual patient. ``session_number`` raises the pain tolerance only."""
    if session_number < 1:
        raise ValueError("session_number must be >= 1")
    rng = np.random.default_rng(seed)
    # Always draw region and weight first so later draws do not depend on the arguments.
    drawn_region = Region.LUMBAR if rng.random() < 0.5 else Region.CERVICAL
    drawn_weight = float(rng.triangular(WEIGHT_MIN_KG, WEIGHT_MODE_KG, WEIGHT_MAX_KG))
    reg = drawn_region if region is None else Region(region)
    w = drawn_weight if weight_kg is None else float(weight_kg)
    if not 30.0 <= w <= 250.0:
        raise ValueError(f"weight_kg {w} outside 30-250 kg")
    # A fixed block of unit draws, mapped into region-specific ranges below.
    u = rng.random(32)

    def pick(i: int, lo_hi: tuple[float, float]) -> float:
        lo, hi = lo_hi
        return float(lo + (hi - lo) * u[i])

    r = _RANGES[reg]
    bw_n = w * G
    dose_n = _DOSE_BW[reg] * bw_n
    fast_mm = pick(0, r["fast_mm_at_dose"])
    creep_mm = pick(1, r["creep_mm_at_dose"])
    tol_bw = pick(2, r["tol_bw"]) + (session_number - 1) * pick(3, r["tol_step_bw"])
    tolerance = tol_bw * bw_n
    seg_fraction = LOWER_BODY_FRACTION if reg is Region.LUMBAR else HEAD_FRACTION
    return PatientParams(
        seed=int(seed),
        region=reg,
        weight_kg=w,
        session_number=int(session_number),
        segment_mass_kg=seg_fraction * w,
        harness_k_n_mm=pick(4, r["harness_k"]),
        spine_fast_k_n_mm=dose_n / fast_mm,
        spine_creep_k_n_mm=dose_n / creep_mm,
        spine_creep_tau_s=pick(5, r["creep_tau"]),
        split_table_friction=pick(6, r["split_mu"]),
        muscle_max_n=pick(7, r["muscle_max_bw"]) * bw_n,
        muscle_rise_tau_s=pick(8, RISE_TAU_S),
        muscle_relax_tau_s=pick(9, RELAX_TAU_S),
        emd_s=pick(10, EMD_S),
        reflex_rate_threshold_n_s=pick(11, r["reflex_thr"]),
        reflex_amplitude=pick(12, REFLEX_AMPLITUDE),
        reflex_duration_s=pick(13, REFLEX_DURATION_S),
        refractory_s=pick(14, REFRACTORY_S),
        pain_tolerance_n=tolerance,
        pain_hysteresis_n=pick(15, PAIN_HYSTERESIS) * tolerance,
        pain_amplitude=pick(16, PAIN_AMPLITUDE),
        pain_delay_s=pick(17, PAIN_DELAY_S),
        spontaneous_per_min=pick(18, SPONTANEOUS_PER_MIN),
        load_cell_sigma_n=pick(19, r["sigma"]),
        emg_baseline_uv=pick(20, EMG_BASELINE_UV),
        emg_gain_uv=pick(21, EMG_GAIN_UV),
        emg_mains_uv=pick(22, EMG_MAINS_UV),
    )


def virtual_population(
    n: int,
    seed: int,
    *,
    region: Region | str | None = None,
    session_number: int = 1,
) -> list[PatientParams]:
    """``n`` patients with independent seeds derived from ``seed``."""
    if n < 0:
        raise ValueError("n must be >= 0")
    seeds = np.random.default_rng(seed).integers(0, 2**62, size=n)
    return [virtual_patient(int(s), region=region, session_number=session_number) for s in seeds]
