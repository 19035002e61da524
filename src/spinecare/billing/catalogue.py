"""The GOÄ catalogue: items, their fee ranges, and the clinic's analog services.

The data live in ``goae_catalogue.json`` next to this module so a clinic (or a reviewer) can
check every number against its source without reading code. Parsing is pure
(:meth:`Catalogue.from_dict`); :func:`default_catalogue` reads the packaged file once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from spinecare.errors import InputError


@dataclass(frozen=True, slots=True)
class FeeRange:
    """A §5 GOÄ fee frame: the factor may run from ``min`` to ``max``; above ``threshold`` the
    invoice needs a written justification (§12(3))."""

    name: str
    min: Decimal
    max: Decimal
    threshold: Decimal
    default: Decimal


@dataclass(frozen=True, slots=True)
class GoaeItem:
    """One position of the Gebührenverzeichnis."""

    number: str
    section: str
    points: int
    text: str
    text_en: str
    fee_range: FeeRange
    min_duration: str | None = None
    min_duration_en: str | None = None
    source: str = ""
    # A shortened legend for invoices; allowed where the sense is kept (BÄK GOÄ-Ratgeber
    # "Korrekte Rechnungslegung (3)" [baek-goae-ratgeber]).
    short_text: str | None = None
    short_text_en: str | None = None

    def description(self, lang: str = "de") -> str:
        return self.text_en if lang == "en" else self.text

    def short_description(self, lang: str = "de") -> str:
        if lang == "en":
            return self.short_text_en or self.text_en
        return self.short_text or self.text


@dataclass(frozen=True, slots=True)
class ClinicService:
    """A service the clinic performs, billed either as the item itself or, where the GOÄ has no
    item for it, analog to an equivalent item (§6(2) GOÄ); the invoice then names "analog" and
    the equivalent item (§12(4))."""

    code: str
    item: GoaeItem
    analog: bool
    text: str
    text_en: str

    @property
    def number(self) -> str:
        return self.item.number

    @property
    def analog_of(self) -> str | None:
        return self.item.number if self.analog else None

    @property
    def label(self) -> str:
        """How the position is named on an invoice: ``"652 analog"`` or ``"538"``."""
        return f"{self.item.number} analog" if self.analog else self.item.number

    def own_text(self, lang: str = "de") -> str:
        return self.text_en if lang == "en" else self.text

    def equivalent(self, lang: str = "de") -> str | None:
        """For an analog service, the equivalent item by number and name (§12(4) GOÄ: the
        service in understandable words, marked "analog"/"entsprechend", plus the number and
        name of the service deemed equivalent); None otherwise."""
        if not self.analog:
            return None
        if lang == "en":
            return f"analog to GOÄ no. {self.item.number}: {self.item.short_description('en')}"
        return f"analog Nr. {self.item.number} GOÄ: {self.item.short_description('de')}"

    def description(self, lang: str = "de") -> str:
        """The service in words, followed by the equivalent item for an analog service."""
        eq = self.equivalent(lang)
        return self.own_text(lang) if eq is None else f"{self.own_text(lang)} – {eq}"


def _dec(value: Any, where: str) -> Decimal:
    if isinstance(value, float):
        raise InputError(where, "write decimals as strings in the catalogue (floats are not exact)")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise InputError(where, "not a decimal number", value) from None


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Items by number, services by code, and which services make up a session per region."""

    point_value_cents: Decimal
    items: Mapping[str, GoaeItem]
    services: Mapping[str, ClinicService]
    session_services: Mapping[str, tuple[str, ...]]

    @property
    def point_value_eur(self) -> Decimal:
        return self.point_value_cents / Decimal(100)

    def item(self, number: str) -> GoaeItem:
        key = str(number).strip()
        try:
            return self.items[key]
        except KeyError:
            known = ", ".join(sorted(self.items, key=lambda n: (len(n), n)))
            raise InputError("item", f"unknown GOÄ item (catalogue has {known})", number) from None

    def service(self, code: str) -> ClinicService:
        try:
            return self.services[code]
        except KeyError:
            raise InputError(
                "service", f"unknown service (one of {', '.join(self.services)})", code
            ) from None

    def services_for(self, region: str) -> tuple[ClinicService, ...]:
        """The services billed for one session in ``region`` (seed: infrared lumbar only)."""
        key = str(region).strip().lower()
        if key not in self.session_services:
            regions = ", ".join(self.session_services)
            raise InputError("region", f"unknown region (one of {regions})", region)
        return tuple(self.services[c] for c in self.session_services[key])

    def service_for_number(self, number: str) -> ClinicService:
        """The clinic service billed under item ``number`` (for ``--factor 652=2.5``)."""
        self.item(number)
        for svc in self.services.values():
            if svc.number == str(number).strip():
                return svc
        raise InputError("item", "no clinic service is billed under this item", number)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Catalogue:
        ranges = {
            name: FeeRange(
                name=name,
                min=_dec(r["min"], f"fee_ranges.{name}.min"),
                max=_dec(r["max"], f"fee_ranges.{name}.max"),
                threshold=_dec(r["threshold"], f"fee_ranges.{name}.threshold"),
                default=_dec(r["default"], f"fee_ranges.{name}.default"),
            )
            for name, r in data["fee_ranges"].items()
        }
        for fr in ranges.values():
            if not (
                Decimal(1) <= fr.min <= fr.default <= fr.max and fr.min <= fr.threshold <= fr.max
            ):
                raise InputError(
                    f"fee_ranges.{fr.name}", "need 1 <= min <= default/threshold <= max"
                )
        sections = data["sections"]
        items: dict[str, GoaeItem] = {}
        for raw in data["items"]:
            number = str(raw["number"])
            section = str(raw["section"])
            if section not in sections:
                raise InputError(f"items.{number}.section", "unknown section", section)
            points = raw["points"]
            if not isinstance(points, int) or points <= 0:
                raise InputError(f"items.{number}.points", "must be a positive integer", points)
            items[number] = GoaeItem(
                number=number,
                section=section,
                points=points,
                text=str(raw["text"]),
                text_en=str(raw.get("text_en", raw["text"])),
                fee_range=ranges[sections[section]["range"]],
                min_duration=raw.get("min_duration"),
                min_duration_en=raw.get("min_duration_en"),
                source=str(raw.get("source", "")),
                short_text=raw.get("short_text"),
                short_text_en=raw.get("short_text_en"),
            )
        services: dict[str, ClinicService] = {}
        for raw in data["services"]:
            code = str(raw["code"])
            number = str(raw["number"])
            if number not in items:
                raise InputError(f"services.{code}.number", "not in the catalogue", number)
            services[code] = ClinicService(
                code=code,
                item=items[number],
                analog=bool(raw["analog"]),
                text=str(raw["text"]),
                text_en=str(raw.get("text_en", raw["text"])),
            )
        session: dict[str, tuple[str, ...]] = {}
        for region, codes in data["session_services"].items():
            if region == "source":
                continue
            for c in codes:
                if c not in services:
                    raise InputError(f"session_services.{region}", "unknown service", c)
            session[region] = tuple(codes)
        return cls(
            point_value_cents=_dec(data["point_value_cents"], "point_value_cents"),
            items=MappingProxyType(items),
            services=MappingProxyType(services),
            session_services=MappingProxyType(session),
        )


@lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    """The packaged catalogue (read-only package data, parsed once)."""
    text = resources.files("spinecare.billing").joinpath("goae_catalogue.json").read_text("utf-8")
    return Catalogue.from_dict(json.loads(text))
