"""The clinical vocabularies, declared once: what a patient's sex, menopausal status, DXA site
and fracture kind can be.

The clinical rules read these words and the store keeps them as their short string values
(``store/enums.py`` re-uses these classes), so a rule and a database row can never disagree on a
spelling. Values are part of the schema: changing one needs a migration.
"""

from __future__ import annotations

import enum


class Sex(enum.StrEnum):
    """F/M as the bone references (the female reference for men's T-scores [iscd2019]) and the
    screening rules (pregnancy, menopause) need them."""

    FEMALE = "F"
    MALE = "M"


class Menopause(enum.StrEnum):
    """Menopausal status: premenopausal women are read by Z-score, not T-score [iscd2019]."""

    PRE = "pre"
    PERI = "peri"
    POST = "post"


class BmdSite(enum.StrEnum):
    """DXA sites accepted for diagnosis; the 33% radius only when the others cannot be used
    [iscd2019]."""

    LUMBAR_SPINE = "lumbar_spine"  # L1-L4
    FEMORAL_NECK = "femoral_neck"
    TOTAL_HIP = "total_hip"
    RADIUS_33 = "radius_33"


class FractureKind(enum.StrEnum):
    """Why a bone broke, which decides what it means: only a fragility fracture makes
    osteoporosis severe [who1994], and a pathologic one needs the tumour question answered
    (CI-01)."""

    OSTEOPOROTIC = "osteoporotic"  # fragility fracture: low-energy trauma
    TRAUMATIC = "traumatic"
    PATHOLOGIC = "pathologic"  # through a lesion (tumour); also triggers CI-01 review
