"""Price one decompression session, or a course of N, under a fee scale.

A quote line is what an invoice line will be, minus the date: the same function feeds the cost
estimate, the CLI quote and the invoice builder, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from spinecare.billing.catalogue import Catalogue, ClinicService, default_catalogue
from spinecare.billing.fees import check_factor, fee, parse_factor
from spinecare.billing.scales import STANDARD_SCALE, FeeScale
from spinecare.errors import InputError


@dataclass(frozen=True, slots=True)
class QuoteLine:
    service: ClinicService
    factor: Decimal
    amount: Decimal
    justification: str | None

    @property
    def number(self) -> str:
        return self.service.number

    @property
    def analog_of(self) -> str | None:
        return self.service.analog_of

    @property
    def points(self) -> int:
        return self.service.item.points

    @property
    def above_threshold(self) -> bool:
        return self.factor > self.service.item.fee_range.threshold


@dataclass(frozen=True, slots=True)
class Quote:
    region: str
    scale: str
    sessions: int
    lines: tuple[QuoteLine, ...]

    @property
    def session_total(self) -> Decimal:
        return sum((ln.amount for ln in self.lines), Decimal("0.00"))

    @property
    def total(self) -> Decimal:
        """N x the session total: each fee is rounded per item and session (§5(1)), so the
        course total is exactly the sum of N identical session invoices."""
        return self.session_total * self.sessions


def _normalise_overrides(
    overrides: Mapping[str, object] | None, catalogue: Catalogue
) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for number, value in (overrides or {}).items():
        catalogue.item(number)  # unknown item -> InputError naming it
        out[str(number).strip()] = parse_factor(value, f"factor for item {number}")
    return out


def price_session(
    region: str,
    scale: FeeScale = STANDARD_SCALE,
    *,
    catalogue: Catalogue | None = None,
    factors: Mapping[str, object] | None = None,
    justifications: Mapping[str, str] | None = None,
) -> tuple[QuoteLine, ...]:
    """The priced lines of one session. ``factors`` override the scale per item number;
    ``justifications`` (per item number) are required above the item's threshold."""
    cat = catalogue or default_catalogue()
    services = cat.services_for(region)
    billed = {s.number for s in services}
    over = _normalise_overrides(factors, cat)
    just = {str(k).strip(): v for k, v in (justifications or {}).items()}
    for number in (*over, *just):
        cat.item(number)
        if number not in billed:
            raise InputError("item", f"not billed for a {region} session", number)
    lines = []
    for svc in services:
        factor = over.get(svc.number, scale.factor(svc.number))
        text = check_factor(svc.item, factor, just.get(svc.number))
        amount = fee(svc.item.points, factor, cat.point_value_eur)
        lines.append(QuoteLine(svc, factor, amount, text))
    return tuple(lines)


def quote(
    region: str,
    sessions: int = 1,
    scale: FeeScale = STANDARD_SCALE,
    *,
    catalogue: Catalogue | None = None,
    factors: Mapping[str, object] | None = None,
    justifications: Mapping[str, str] | None = None,
) -> Quote:
    """Price ``sessions`` sessions in ``region`` (e.g. a course of 15-20, seed)."""
    if isinstance(sessions, bool) or not isinstance(sessions, int) or sessions < 1:
        raise InputError("sessions", "must be a whole number of at least 1", sessions)
    lines = price_session(
        region, scale, catalogue=catalogue, factors=factors, justifications=justifications
    )
    return Quote(region=str(region).lower(), scale=scale.name, sessions=sessions, lines=lines)
