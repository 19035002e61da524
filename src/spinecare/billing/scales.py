"""Fee scales: which factor the clinic charges for each item, per patient group.

The standard scale reproduces the seed's table to the cent (lumbar 70.68 EUR, cervical 66.48 EUR
per session). For self-payers the seed promises "a lower fee scale (by about 20%)". We realise
that with *lower factors*, not with a discount on the total: the GOÄ has no flat discount, but
any factor from 1.0 up is within the frame (§5(1)), so a lower factor is the GOÄ-conform way and
every line on the invoice stays a proper GOÄ fee. A clinic may define its own scales
(:meth:`FeeScale.from_mapping`); every factor is checked against the item's range.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from spinecare.billing.catalogue import Catalogue
from spinecare.billing.fees import check_factor, parse_factor
from spinecare.errors import InputError


class Insurance(enum.StrEnum):
    """How the patient is insured; decides the default fee scale."""

    PRIVATE = "private"
    STATUTORY = "statutory"
    SELF_PAYER = "self_payer"


@dataclass(frozen=True, slots=True)
class FeeScale:
    """Factors per GOÄ item number. Immutable; validated against a catalogue on use."""

    name: str
    factors: Mapping[str, Decimal]
    description: str = ""

    def factor(self, number: str) -> Decimal:
        try:
            return self.factors[number]
        except KeyError:
            raise InputError(
                "scale", f"fee scale {self.name!r} has no factor for item", number
            ) from None

    def validate(self, catalogue: Catalogue) -> FeeScale:
        """Every item known, every factor within its frame and at most at the threshold (a
        scale is a default, so it must not need a per-case justification)."""
        for number, f in self.factors.items():
            item = catalogue.item(number)
            check_factor(item, f, None)
        return self

    @classmethod
    def from_mapping(cls, name: str, factors: Mapping[str, Any], description: str = "") -> FeeScale:
        parsed = {
            str(k): parse_factor(v, f"scale {name}: factor for {k}") for k, v in factors.items()
        }
        return cls(name=name, factors=MappingProxyType(parsed), description=description)


# Seed spinemed-decompression.txt: 538 x 1.800 = 4.20, 516 analog x 1.800 = 6.82,
# 652 analog x 2.300 = 59.66 EUR. 1.8 and 2.3 are the thresholds of the technical and the medical
# frame (§5(2)/(3) GOÄ), the customary "Regelsatz".
STANDARD_SCALE = FeeScale.from_mapping(
    "standard",
    {"538": "1.8", "516": "1.8", "652": "2.3"},
    "GOÄ threshold factors (seed table): lumbar 70.68 EUR, cervical 66.48 EUR per session",
)

# Seed: "For self-payers, we reduce the charges according to a lower fee scale (by about 20%)".
# Lower factors give lumbar 3.26 + 5.30 + 47.99 = 56.55 EUR (-19.99%) and cervical
# 5.30 + 47.99 = 53.29 EUR (-19.84%); each factor stays >= 1.0 as §5(1) requires.
SELF_PAYER_SCALE = FeeScale.from_mapping(
    "self_payer",
    {"538": "1.4", "516": "1.4", "652": "1.85"},
    "self-payer scale: lower factors, about 20% below the standard scale (seed)",
)

DEFAULT_SCALES: Mapping[str, FeeScale] = MappingProxyType(
    {STANDARD_SCALE.name: STANDARD_SCALE, SELF_PAYER_SCALE.name: SELF_PAYER_SCALE}
)


def scale_for(
    insurance: Insurance | str, scales: Mapping[str, FeeScale] = DEFAULT_SCALES
) -> FeeScale:
    """The fee scale for a patient's insurance.

    Privately insured patients get the standard scale (their insurer reimburses by tariff);
    statutory patients pay this service themselves (the seed: not a statutory benefit), so they
    are self-payers, as are patients without insurance.
    """
    try:
        ins = Insurance(insurance)
    except ValueError:
        choices = ", ".join(i.value for i in Insurance)
        raise InputError(
            "insurance", f"unknown insurance type (one of {choices})", insurance
        ) from None
    key = "standard" if ins is Insurance.PRIVATE else "self_payer"
    try:
        return scales[key]
    except KeyError:
        raise InputError("scale", "no such fee scale configured", key) from None
