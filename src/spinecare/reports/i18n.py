"""Number, money and date formatting per document language, and the document texts.

German documents use German notation ("1.060,20 €", "1,80", "03.03.2025"), English ones English
notation ("€1,060.20", "1.80", "3 Mar 2025"). The texts themselves live in
``templates/texts_<lang>.json`` so a clinic that overrides the template directory can reword
them without touching code.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from spinecare.errors import InputError

Lang = Literal["de", "en"]
LANGS: tuple[Lang, ...] = ("de", "en")

_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def check_lang(lang: str) -> Lang:
    if lang == "de":
        return "de"
    if lang == "en":
        return "en"
    raise InputError("lang", "one of de, en", lang)


def _grouped(value: Decimal, places: int, thousands: str, decimal_sep: str) -> str:
    q = abs(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    whole, _, frac = f"{q:f}".partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    text = thousands.join(groups)
    if places:
        text += decimal_sep + frac
    return text


def format_money(amount: Decimal, lang: str = "de") -> str:
    """``70,68 €`` in German, ``€70.68`` in English; a minus sign for credit notes."""
    sign = "-" if amount < 0 else ""
    if check_lang(lang) == "de":
        return f"{sign}{_grouped(amount, 2, '.', ',')} €"
    return f"{sign}€{_grouped(amount, 2, ',', '.')}"


def format_decimal(value: Decimal | float | int, lang: str = "de", places: int = 1) -> str:
    d = value if isinstance(value, Decimal) else Decimal(str(value))
    sign = "-" if d < 0 else ""
    if check_lang(lang) == "de":
        return sign + _grouped(d, places, ".", ",")
    return sign + _grouped(d, places, ",", ".")


def format_factor(factor: Decimal, lang: str = "de") -> str:
    """A multiplier with two decimals (three where it has them): ``2,30`` / ``1,85``."""
    exponent = factor.normalize().as_tuple().exponent
    places = 3 if isinstance(exponent, int) and exponent < -2 else 2
    return format_decimal(factor, lang, places)


def format_date(day: date | None, lang: str = "de") -> str:
    if day is None:
        return "–"
    if check_lang(lang) == "de":
        return day.strftime("%d.%m.%Y")
    return f"{day.day} {_EN_MONTHS[day.month - 1]} {day.year}"
