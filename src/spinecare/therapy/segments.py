"""The segment model: which share of the cable force arrives at which movement segment.

The seed [seed-spinemed] promises that the pelvic-support angle and the weight-adapted force
"determine exactly how much force actually arrives in which movement segment (e.g. L4/5)". No
measurement of that exists; this module is a planar (sagittal) *model estimate* with every
assumption written down in ``MODEL_ASSUMPTIONS`` and in docs/segment-model.md. It must be shown
to users as an estimate.

Geometry (supine patient, sagittal plane):
- x runs along the table towards the puller (the foot end for lumbar, the head end for cervical),
  y points away from the table surface (towards the ceiling, i.e. anterior for a supine patient).
- The cable leaves the harness at the pull angle ``theta`` above the table plane: (cos, sin).
- Each disc has a normal (the local spinal axis, pointing towards the puller) at angle ``phi``
  from the table plane, positive towards the ceiling. It comes from the tilt of the anchoring
  vertebra (S1 sacral slope, T1 slope) accumulated over the segmental lordosis; the disc normal
  bisects the two adjacent vertebral axes.
- Raising the pull angle flexes the treated region: the pulled end rotates by
  ``FLEXION_PER_PULL_DEG * theta`` and the lordosis of each segment shrinks in proportion to its
  share of the regional lordosis (the other end, thorax or T1, stays where the table holds it).
- The force the spine receives keeps the cable's line of action; its magnitude is the cable force
  minus limiting friction of the part that slides (lower body or head). Per segment:
  axial = F_t cos(theta - phi), shear = F_t sin(theta - phi).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from spinecare.clinical.dosing import progression_ceiling_fraction
from spinecare.errors import InputError
from spinecare.quantities import BODY_WEIGHT, DEVICE_MAX_FORCE_N
from spinecare.vocab import (
    SEGMENTS,
    G,
    Region,
    TableType,
    segment_normalise,
    segment_region,
)

# --- Segmental lordosis (degrees, listed from the pulled/anchor end outwards) -------------------
# Lumbar, standing, posterior-tangent relative rotation angles, 50 healthy subjects (Harrison et
# al. [harrison1998]). Supine with straight legs stays within ~3 deg of standing [andreasen2007],
# so the standing values are used unchanged on the table.
LUMBAR_LORDOSIS_DEG: dict[str, float] = {
    "L5/S1": 32.4,
    "L4/5": 16.8,
    "L3/4": 11.7,
    "L2/3": 7.6,
    "L1/2": 4.1,
}
# Cervical: C2-C7 absolute rotation angle 26.9 deg (posterior tangent, 72 asymptomatic subjects;
# Harrison DE et al. [harrison2004], as quoted in [openmed2021]). No per-level table was
# available to us, so it is split equally over C2/3..C6/7 as Harrison's circular model of the
# cervical lordosis implies (equal arcs on a circle have equal relative rotation angles;
# Harrison DD et al. [harrison1996]).
CERVICAL_C2_C7_LORDOSIS_DEG = 26.9
_PER_LEVEL = CERVICAL_C2_C7_LORDOSIS_DEG / 5.0
CERVICAL_LORDOSIS_DEG: dict[str, float] = {
    # C7/T1 is the cervicothoracic junction, outside Harrison's C2-C7 measurement: taken as 0
    # (engineering assumption: neither lordotic nor kyphotic).
    "C7/T1": 0.0,
    "C6/7": _PER_LEVEL,
    "C5/6": _PER_LEVEL,
    "C4/5": _PER_LEVEL,
    "C3/4": _PER_LEVEL,
    "C2/3": _PER_LEVEL,
}

# --- Anchors ----------------------------------------------------------------------------------
# Sacral slope (S1 endplate to horizontal, standing) about 40 deg in asymptomatic adults
# [legaye1998] [vialle2005] (41 +/- 8 deg in Vialle et al.); taken unchanged supine with straight
# legs for the same reason as the lordosis [andreasen2007].
SACRAL_SLOPE_DEG = 40.0
# T1 slope about 25 deg standing [knott2010] (C7 slope 20.5 +/- 8.9 deg in adolescents
# [zhu2022]). Supine values are reported smaller; the standing value is used for lack of a supine
# norm.
T1_SLOPE_DEG = 25.0

# --- Flexion produced by the pull angle -------------------------------------------------------
# Engineering assumption, no source measured it: half of the cable elevation becomes rotation of
# the pulled end (posterior pelvic tilt, or head/upper-neck flexion). At 30 deg this flattens the
# lumbar lordosis by 15 deg, about the 13 deg difference between standing and recumbent lordosis
# in 627 asymptomatic adults [yukawa2019], i.e. a plausible magnitude.
FLEXION_PER_PULL_DEG = 0.5

# --- Masses and friction ----------------------------------------------------------------------
# Lower body (pelvis and legs) roughly half the body weight: Dempster's segment masses via Winter
# [winter2009], thighs, shanks and feet 32.2% plus pelvis about 14%.
LOWER_BODY_FRACTION = 0.5
# Head and neck 8.1% of body weight (Dempster via Winter [winter2009], table 4.1).
HEAD_FRACTION = 0.081
# Friction coefficient about 0.5 on a fixed table (Lee & Evans [lee-evans2001]).
FRICTION_FIXED = 0.5
# The split table removes most of it [lee-evans2001]; the residual (rolling section, bearings,
# harness drag) is an engineering assumption of 10% of the fixed value.
FRICTION_SPLIT = 0.05

# --- Device ranges ----------------------------------------------------------------------------
# Pull-angle ranges of the device. Cervical 15-35 deg of flexion, up to the angles of largest
# separation (about 30 deg for C4-6, 35 deg for C6-T1: larger for lower segments) [hseuh1991].
# Lumbar 0-30 deg above the table plane: engineering choice, the span over which the flexion
# assumption above (15 deg at 30 deg of pull) stays near the measured standing-to-recumbent
# change [yukawa2019].
ANGLE_RANGE_DEG: dict[Region, tuple[float, float]] = {
    Region.LUMBAR: (0.0, 30.0),
    Region.CERVICAL: (15.0, 35.0),
}
MAX_CABLE_FORCE_N = DEVICE_MAX_FORCE_N

MODEL_ASSUMPTIONS: tuple[str, ...] = (
    "Model estimate, not a measurement: no in-vivo validation of per-segment force exists and "
    "no source gives an angle-per-segment table.",
    "Planar (sagittal) geometry, supine patient, straight legs; the spine is a chain of rigid "
    "vertebrae; each disc normal bisects its two vertebral axes.",
    "Lumbar segmental lordosis L1/2 4.1, L2/3 7.6, L3/4 11.7, L4/5 16.8, L5/S1 32.4 deg (Harrison, "
    "standing); supine straight-leg within ~3 deg (Andreasen 2007), used unchanged.",
    "Cervical lordosis C2-C7 26.9 deg (Harrison 2004, 72 asymptomatic) split equally over "
    "C2/3..C6/7 (Harrison 1996 circular model); C7/T1 taken as 0 deg.",
    "Anchors: sacral slope 40 deg (Legaye 1998; Vialle 2005), T1 slope 25 deg (Knott 2010), "
    "standing values used supine.",
    "Raising the pull angle rotates the pulled end by 0.5 deg per deg (assumption), taken up by "
    "each segment in proportion to its lordosis; the thorax (lumbar) or T1 (cervical) stays put.",
    "The moving part is the lower body (50% of body weight) or the head (8.1%, Dempster/Winter); "
    "limiting friction mu*(weight - F*sin(angle)), mu 0.5 fixed table, 0.05 split table "
    "(Lee & Evans 2001; split residual assumed).",
    "The force reaching the spine keeps the cable's line of action: transmitted = cable - "
    "friction, clipped at 0; axial = transmitted*cos(angle - disc angle), shear = "
    "transmitted*sin(angle - disc angle).",
    "Not modelled: muscle guarding, creep, soft-tissue and facet load sharing, harness slip, "
    "individual anatomy (lordosis varies by about +/-10 deg between people).",
)


@dataclass(frozen=True, slots=True)
class SegmentForce:
    """Estimated load at one segment. Shear is positive when the cable pulls ceiling-wards of
    the disc normal."""

    segment: str
    axial_n: float
    shear_n: float
    share_of_cable: float
    disc_angle_deg: float


@dataclass(frozen=True, slots=True)
class Transmission:
    """How much of the cable force reaches the spine and how much friction takes."""

    cable_force_n: float
    transmitted_n: float
    friction_n: float
    normal_load_n: float


@dataclass(frozen=True, slots=True)
class SegmentTransfer:
    """Per-tick form for the 50 Hz loop: axial force at one segment for a cable force.

    Angle, weight and table are fixed for a session, so the geometry is folded into constants
    and ``axial_n`` is a handful of float operations (piecewise linear in force).
    """

    segment: str
    angle_deg: float
    cos_factor: float
    friction_coefficient: float
    moving_weight_n: float
    sin_angle: float

    def transmitted_n(self, cable_force_n: float) -> float:
        normal = self.moving_weight_n - cable_force_n * self.sin_angle
        friction = self.friction_coefficient * normal if normal > 0.0 else 0.0
        t = cable_force_n - friction
        return t if t > 0.0 else 0.0

    def axial_n(self, cable_force_n: float) -> float:
        return self.transmitted_n(cable_force_n) * self.cos_factor


# --- Validation -------------------------------------------------------------------------------


def _region(region: Region | str) -> Region:
    try:
        return Region(region)
    except ValueError:
        raise InputError("region", "must be lumbar or cervical", region) from None


def _table(table: TableType | str) -> TableType:
    try:
        return TableType(table)
    except ValueError:
        raise InputError("table", "must be split or fixed", table) from None


def _check_range(field: str, value: float, lo: float, hi: float, unit: str) -> float:
    if not math.isfinite(value) or not lo <= value <= hi:
        raise InputError(field, f"must be between {lo:g} and {hi:g} {unit}", value)
    return float(value)


def _check_weight(body_weight_kg: float) -> float:
    return _check_range(
        "body_weight_kg", body_weight_kg, BODY_WEIGHT.safe_min, BODY_WEIGHT.safe_max, "kg"
    )


def _check_force(cable_force_n: float) -> float:
    return _check_range("cable_force_n", cable_force_n, 0.0, MAX_CABLE_FORCE_N, "N")


def _check_angle(region: Region, angle_deg: float) -> float:
    lo, hi = ANGLE_RANGE_DEG[region]
    return _check_range("angle_deg", angle_deg, lo, hi, f"deg for {region.value} traction")


def check_segment(region: Region | str, segment: str) -> str:
    """Canonical segment name, or InputError if it is not a segment of ``region``."""
    reg = _region(region)
    seg = segment_normalise(segment)
    if seg not in SEGMENTS[reg]:
        raise InputError(
            "segment",
            f"not a {reg.value} segment (allowed: {', '.join(SEGMENTS[reg])})",
            segment,
        )
    return seg


def angle_range(region: Region | str) -> tuple[float, float]:
    return ANGLE_RANGE_DEG[_region(region)]


# --- Geometry ---------------------------------------------------------------------------------


def disc_angles(region: Region | str, angle_deg: float) -> dict[str, float]:
    """Disc-normal angle of every segment (deg from the table plane, towards the puller,
    positive towards the ceiling) at pull angle ``angle_deg``, flexion included."""
    reg = _region(region)
    lordosis = LUMBAR_LORDOSIS_DEG if reg is Region.LUMBAR else CERVICAL_LORDOSIS_DEG
    total = sum(lordosis.values())
    flexion = min(FLEXION_PER_PULL_DEG * max(angle_deg, 0.0), total)
    keep = 1.0 - flexion / total
    if reg is Region.LUMBAR:
        # Standing tilt of S1's cranial axis (anterior positive); posterior pelvic tilt lowers it.
        # Supine with the feet towards the puller, the caudal-pointing axis angle is -tilt.
        tilt, sign = SACRAL_SLOPE_DEG - flexion, -1.0
    else:
        # T1 held by the table; with the head towards the puller the cranial axis angle is +tilt.
        tilt, sign = T1_SLOPE_DEG, 1.0
    out: dict[str, float] = {}
    for seg, rra in lordosis.items():
        out[seg] = sign * (tilt - 0.5 * rra * keep)
        tilt -= rra * keep
    return {seg: out[seg] for seg in SEGMENTS[reg]}


def _moving_weight_n(region: Region, body_weight_kg: float) -> float:
    frac = LOWER_BODY_FRACTION if region is Region.LUMBAR else HEAD_FRACTION
    return body_weight_kg * G * frac


def _mu(table: TableType) -> float:
    return FRICTION_SPLIT if table is TableType.SPLIT else FRICTION_FIXED


def transmission(
    cable_force_n: float,
    angle_deg: float,
    region: Region | str,
    body_weight_kg: float,
    table: TableType | str = TableType.SPLIT,
) -> Transmission:
    """Cable force split into what reaches the spine and what friction takes (limiting
    friction: conservative for the delivered force)."""
    reg = _region(region)
    force = _check_force(cable_force_n)
    angle = _check_angle(reg, angle_deg)
    weight = _moving_weight_n(reg, _check_weight(body_weight_kg))
    normal = max(0.0, weight - force * math.sin(math.radians(angle)))
    friction = min(force, _mu(_table(table)) * normal)
    return Transmission(force, force - friction, friction, normal)


def segment_transfer(
    region: Region | str,
    body_weight_kg: float,
    angle_deg: float,
    table: TableType | str,
    segment: str,
) -> SegmentTransfer:
    """Precompute the per-tick transfer for one session's geometry and target segment."""
    reg = _region(region)
    seg = check_segment(reg, segment)
    angle = _check_angle(reg, angle_deg)
    weight = _moving_weight_n(reg, _check_weight(body_weight_kg))
    phi = disc_angles(reg, angle)[seg]
    return SegmentTransfer(
        segment=seg,
        angle_deg=angle,
        cos_factor=math.cos(math.radians(angle - phi)),
        friction_coefficient=_mu(_table(table)),
        moving_weight_n=weight,
        sin_angle=math.sin(math.radians(angle)),
    )


def segment_forces(
    cable_force_n: float,
    angle_deg: float,
    region: Region | str,
    body_weight_kg: float,
    table: TableType | str = TableType.SPLIT,
) -> list[SegmentForce]:
    """Estimated axial (distraction) and shear force at every segment of ``region``."""
    reg = _region(region)
    trans = transmission(cable_force_n, angle_deg, reg, body_weight_kg, table)
    out: list[SegmentForce] = []
    for seg, phi in disc_angles(reg, angle_deg).items():
        rel = math.radians(angle_deg - phi)
        axial = max(0.0, trans.transmitted_n * math.cos(rel))
        share = axial / trans.cable_force_n if trans.cable_force_n > 0.0 else 0.0
        out.append(SegmentForce(seg, axial, trans.transmitted_n * math.sin(rel), share, phi))
    return out


@functools.lru_cache(maxsize=4096)
def recommend_angle(
    segment: str,
    region: Region | str | None = None,
    body_weight_kg: float = 75.0,
    table: TableType | str = TableType.SPLIT,
    cable_force_n: float | None = None,
) -> float:
    """Pull angle in the device range that puts the most axial force on ``segment``.

    The optimum depends a little on force (friction falls as the cable lifts the moving part);
    by default it is computed at the region's target dose (50% body weight lumbar, 10% cervical,
    protocol.py), capped at the device limit. Grid search at 0.1 deg: the curve is smooth and
    cheap, and a grid is not thrown off by the kink where friction vanishes. Ties go to the
    geometry. Remembered per arguments: every session of a course asks again (300 transfers).
    """
    reg = _region(region) if region is not None else None
    if reg is None:
        reg = segment_region(segment)
        if reg is None:
            raise InputError("segment", "not a known movement segment", segment)
    seg = check_segment(reg, segment)
    weight = _check_weight(body_weight_kg)
    tab = _table(table)
    if cable_force_n is None:
        force = min(MAX_CABLE_FORCE_N, weight * G * progression_ceiling_fraction(reg))
    else:
        force = _check_force(cable_force_n)
    lo, hi = ANGLE_RANGE_DEG[reg]
    best_key = (-1.0, -2.0)
    best = lo
    for i in range(round((hi - lo) * 10) + 1):
        angle = lo + i / 10.0
        t = segment_transfer(reg, weight, angle, tab, seg)
        key = (round(t.axial_n(force), 9), t.cos_factor)
        if key > best_key:
            best_key, best = key, angle
    return round(best, 1)


__all__ = [
    "ANGLE_RANGE_DEG",
    "MODEL_ASSUMPTIONS",
    "SegmentForce",
    "SegmentTransfer",
    "Transmission",
    "angle_range",
    "check_segment",
    "disc_angles",
    "recommend_angle",
    "segment_forces",
    "segment_transfer",
    "transmission",
]
