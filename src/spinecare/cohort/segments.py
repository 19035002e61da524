"""Where a cohort's pull lands: the target segment against its neighbours (model estimates)."""

from __future__ import annotations

from spinecare.sim.demographics import PatientProfile
from spinecare.therapy.protocol import Protocol
from spinecare.therapy.segments import (
    CERVICAL_LORDOSIS_DEG,
    LUMBAR_LORDOSIS_DEG,
    angle_range,
    segment_forces,
)
from spinecare.vocab import Region


def neighbour_forces(
    proto: Protocol, profile: PatientProfile, force_n: float
) -> dict[str, float | None]:
    """Axial force (model estimate) at the target segment and its neighbours for the mean hold
    force. The patient's lordosis offset tilts the target's disc by its share of the regional
    curve; modelled as the same shift of the pull angle at every segment (assumption)."""
    curve = LUMBAR_LORDOSIS_DEG if proto.region is Region.LUMBAR else CERVICAL_LORDOSIS_DEG
    share = curve.get(proto.segment, 0.0) / sum(curve.values())
    angle = float(proto.pull_angle_deg or 0.0) - profile.lordosis_offset_deg * share
    lo, hi = angle_range(proto.region)
    angle = min(hi, max(lo, angle))
    rows = segment_forces(max(0.0, force_n), angle, proto.region, proto.body_weight_kg, proto.table)
    names = [r.segment for r in rows]
    i = names.index(proto.segment)
    axial = [r.axial_n for r in rows]
    below = axial[i - 1] if i > 0 else None
    above = axial[i + 1] if i + 1 < len(axial) else None
    return {
        "target_axial_n": round(axial[i], 1),
        "neighbour_axial_n_max": (
            None
            if below is None and above is None
            else round(max(x for x in (below, above) if x is not None), 1)
        ),
    }
