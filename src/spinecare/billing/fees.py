"""GOÄ fee arithmetic: points x point value x factor, rounded half-up to the cent (§5(1) GOÄ).

Everything is ``Decimal``; a binary float is refused at the edge because 1.8 as a float is
1.8000000000000000444..., and an invoice amount must be exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from spinecare.billing.catalogue import GoaeItem
from spinecare.errors import InputError

CENT = Decimal("0.01")
# Factors are written with up to three decimals (the seed prints "1,800"); more digits would
# give a fee nobody can check on paper.
FACTOR_PLACES = 3


def to_decimal(value: object, field: str) -> Decimal:
    """A finite Decimal from a str, int or Decimal; floats are refused (not exact)."""
    if isinstance(value, (bool, float)):
        raise InputError(field, "give a decimal string, not a binary float (not exact)", value)
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, str):
        try:
            d = Decimal(value.strip().replace(",", "."))
        except InvalidOperation:
            raise InputError(field, "not a decimal number", value) from None
    else:
        raise InputError(field, "not a decimal number", value)
    if not d.is_finite():
        raise InputError(field, "must be a finite number", value)
    return d


def parse_factor(value: object, field: str = "factor") -> Decimal:
    """A multiplier (Steigerungsfaktor) with at most three decimals."""
    d = to_decimal(value, field)
    exponent = d.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    if -exponent > FACTOR_PLACES:
        raise InputError(
            field, f"at most {FACTOR_PLACES} decimals, the fee would not be exact to check", value
        )
    return d


def round_cent(amount: Decimal) -> Decimal:
    """Round to the cent, fractions of 0.5 cent and more upward (§5(1) sentence 4 GOÄ)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def simple_rate(points: int, point_value_eur: Decimal) -> Decimal:
    """The Gebührensatz (1.0-fold), exact and unrounded."""
    return Decimal(points) * point_value_eur


def fee(points: int, factor: Decimal, point_value_eur: Decimal) -> Decimal:
    """One fee: points x point value x factor, rounded half-up to the cent (§5(1))."""
    if points <= 0:
        raise InputError("points", "must be positive", points)
    return round_cent(simple_rate(points, point_value_eur) * factor)


# §12(3) GOÄ asks for a justification the patient can understand and check, printed on the
# invoice beside the item: a sentence or two (engineering limit, [goae]).
JUSTIFICATION_MAX_CHARS = 500


def check_factor(item: GoaeItem, factor: Decimal, justification: str | None) -> str | None:
    """Refuse a factor outside the item's frame; demand a justification above its threshold.

    Returns the (stripped) justification, or None where none is needed (any given one is kept
    too: a clinic may explain a factor even below the threshold).
    """
    fr = item.fee_range
    if factor < fr.min or factor > fr.max:
        raise InputError(
            f"factor {factor}",
            f"outside the range {fr.min}-{fr.max} of GOÄ item {item.number} (§5 GOÄ)",
        )
    text = (justification or "").strip() or None
    if text is not None and len(text) > JUSTIFICATION_MAX_CHARS:
        raise InputError(
            f"justification {item.number}",
            f"{len(text)} characters: at most {JUSTIFICATION_MAX_CHARS} (the reason for the "
            "factor in a sentence or two, §12(3) GOÄ; the rest belongs in the medical record)",
        )
    if factor > fr.threshold and text is None:
        raise InputError(
            f"factor {factor}",
            f"above the threshold {fr.threshold} of GOÄ item {item.number}: a written "
            "justification is required (§12(3) GOÄ)",
        )
    return text


@dataclass(frozen=True, slots=True)
class FeeBreakdown:
    """How one amount came about, for display and for tests."""

    points: int
    point_value_eur: Decimal
    factor: Decimal
    exact: Decimal
    amount: Decimal


def fee_breakdown(points: int, factor: Decimal, point_value_eur: Decimal) -> FeeBreakdown:
    exact = simple_rate(points, point_value_eur) * factor
    return FeeBreakdown(points, point_value_eur, factor, exact, round_cent(exact))
