"""Is a body weight or height biologically plausible for a child's age and sex?

Children and adolescents (2 to 20 years) are checked against the CDC 2000 growth reference
[cdc2000-growth]: the L, M and S parameters of weight-for-age and stature-for-age (below, one row
per year of age, interpolated linearly between rows). A value is implausible when its *modified*
z-score lies beyond the CDC's cut-offs for biologically implausible values [cdc-biv]: weight
below -5 or above +8, height below -5 or above +4. These cut-offs flag only values no child has
(a 3-year-old of 80 kg has a modified z-score above +60); they are not clinical thresholds.

Under 2 years the 2-year row is used (the reference's youngest), above 20 the 20-year row is not
applied: adults are checked against the plain ranges of ``services/patients.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from spinecare.clinical.vocab import Sex

# (age in months, L, M, S) of the CDC 2000 tables wtage.csv and statage.csv [cdc2000-growth],
# the rows at each whole year of age (month 24 and 240 are the tables' ends).
_WEIGHT: dict[Sex, tuple[tuple[float, float, float, float], ...]] = {
    Sex.MALE: (
        (24.0, -0.2062, 12.671, 0.10813), (36.5, -0.6213, 14.403, 0.11187),
        (48.5, -0.9152, 16.317, 0.11996), (60.5, -1.0005, 18.486, 0.12988),
        (72.5, -1.0875, 20.778, 0.13914), (84.5, -1.2365, 23.167, 0.14734),
        (96.5, -1.3518, 25.753, 0.15597), (108.5, -1.3394, 28.681, 0.16666),
        (120.5, -1.2067, 32.088, 0.17893), (132.5, -1.0193, 36.073, 0.19003),
        (144.5, -0.8370, 40.674, 0.19659), (156.5, -0.6982, 45.813, 0.19666),
        (168.5, -0.6319, 51.231, 0.19081), (180.5, -0.6656, 56.491, 0.18167),
        (192.5, -0.8020, 61.095, 0.17246), (204.5, -0.9732, 64.700, 0.16564),
        (216.5, -1.0662, 67.290, 0.16192), (228.5, -1.0233, 69.195, 0.16014),
        (240.0, -0.9165, 70.598, 0.16148),
    ),
    Sex.FEMALE: (
        (24.0, -0.7353, 12.055, 0.10740), (36.5, -1.0245, 13.941, 0.11949),
        (48.5, -1.1770, 15.878, 0.13180), (60.5, -1.2877, 18.023, 0.14119),
        (72.5, -1.3268, 20.336, 0.14959), (84.5, -1.2655, 22.868, 0.15969),
        (96.5, -1.1277, 25.757, 0.17215), (108.5, -0.9707, 29.143, 0.18520),
        (120.5, -0.8469, 33.064, 0.19595), (132.5, -0.7874, 37.391, 0.20197),
        (144.5, -0.8076, 41.828, 0.20230), (156.5, -0.9155, 45.984, 0.19736),
        (168.5, -1.1116, 49.491, 0.18856), (180.5, -1.3765, 52.136, 0.17795),
        (192.5, -1.6512, 53.945, 0.16812), (204.5, -1.8381, 55.182, 0.16175),
        (216.5, -1.8509, 56.230, 0.16037), (228.5, -1.6933, 57.352, 0.16314),
        (240.0, -1.5134, 58.219, 0.16664),
    ),
}  # fmt: skip
_HEIGHT: dict[Sex, tuple[tuple[float, float, float, float], ...]] = {
    Sex.MALE: (
        (24.0, 0.9415, 86.452, 0.04032), (36.5, -0.3909, 95.274, 0.04053),
        (48.5, 0.8276, 102.510, 0.04134), (60.5, 1.2664, 109.175, 0.04259),
        (72.5, 1.1374, 115.661, 0.04367), (84.5, 0.7532, 122.031, 0.04440),
        (96.5, 0.4553, 128.124, 0.04513), (108.5, 0.4157, 133.734, 0.04622),
        (120.5, 0.5056, 138.823, 0.04761), (132.5, 0.4879, 143.730, 0.04894),
        (144.5, 0.4209, 149.309, 0.04995), (156.5, 0.8162, 156.410, 0.05033),
        (168.5, 1.6704, 164.142, 0.04895), (180.5, 2.2052, 170.139, 0.04589),
        (192.5, 2.1130, 173.610, 0.04309), (204.5, 1.7247, 175.341, 0.04141),
        (216.5, 1.4000, 176.185, 0.04064), (228.5, 1.2292, 176.618, 0.04039),
        (240.0, 1.1673, 176.849, 0.04037),
    ),
    Sex.FEMALE: (
        (24.0, 1.0724, 84.976, 0.04079), (36.5, 0.5420, 94.213, 0.04202),
        (48.5, 0.2257, 101.034, 0.04326), (60.5, -0.0577, 107.957, 0.04428),
        (72.5, -0.2191, 115.005, 0.04496), (84.5, -0.2102, 121.762, 0.04546),
        (96.5, -0.0793, 127.826, 0.04597), (108.5, 0.0841, 133.130, 0.04688),
        (120.5, 0.2847, 138.211, 0.04870), (132.5, 0.7443, 144.261, 0.05052),
        (144.5, 1.3030, 151.487, 0.04860), (156.5, 1.2430, 157.344, 0.04386),
        (168.5, 0.9566, 160.478, 0.04102), (180.5, 0.8956, 161.898, 0.04008),
        (192.5, 0.9411, 162.569, 0.03982), (204.5, 0.9995, 162.924, 0.03973),
        (216.5, 1.0476, 163.131, 0.03969), (228.5, 1.0833, 163.259, 0.03966),
        (240.0, 1.1080, 163.338, 0.03964),
    ),
}  # fmt: skip
ADULT_MONTHS = 240.0  # the reference ends at 20 years
# CDC cut-offs for biologically implausible values, modified z-scores [cdc-biv].
WEIGHT_BIV = (-5.0, 8.0)
HEIGHT_BIV = (-5.0, 4.0)


@dataclass(frozen=True, slots=True)
class Implausible:
    field: str  # "weight_kg" or "height_cm"
    reason: str


def _lms(table: tuple[tuple[float, float, float, float], ...], months: float) -> tuple[float, ...]:
    if months <= table[0][0]:
        return table[0][1:]
    for (a0, *p0), (a1, *p1) in pairwise(table):
        if months <= a1:
            f = (months - a0) / (a1 - a0)
            return tuple(x0 + f * (x1 - x0) for x0, x1 in zip(p0, p1, strict=True))
    return table[-1][1:]


def _at_z(lms: tuple[float, ...], z: float) -> float:
    """The value at z-score ``z`` of an LMS distribution (L != 0 in these tables)."""
    lam, mu, sigma = lms
    return float(mu * (1.0 + lam * sigma * z) ** (1.0 / lam))


def modified_z(lms: tuple[float, ...], value: float) -> float:
    """The CDC modified z-score: distance from the median in half the distance between the
    median and z = +2 (above) or z = -2 (below) [cdc-biv]."""
    mu = lms[1]
    if value >= mu:
        return (value - mu) / (0.5 * (_at_z(lms, 2.0) - mu))
    return (value - mu) / (0.5 * (mu - _at_z(lms, -2.0)))


def implausible_for_age(
    sex: Sex, age_months: float, *, weight_kg: float | None, height_cm: float | None
) -> list[Implausible]:
    """Values no child of this age and sex has (empty for adults and plausible values)."""
    if age_months >= ADULT_MONTHS:
        return []
    out: list[Implausible] = []
    years = int(age_months // 12)
    for field, value, table, (low, high), noun in (
        ("weight_kg", weight_kg, _WEIGHT, WEIGHT_BIV, "weight"),
        ("height_cm", height_cm, _HEIGHT, HEIGHT_BIV, "height"),
    ):
        if value is None:
            continue
        z = modified_z(_lms(table[sex], age_months), value)
        if not low <= z <= high:
            way = "above" if z > high else "below"
            out.append(
                Implausible(
                    field,
                    f"implausible {noun} for a {years}-year-old: far {way} the CDC growth "
                    "reference (modified z-score beyond the cut-off for implausible values)",
                )
            )
    return out
