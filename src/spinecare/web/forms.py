"""Reading typed values out of HTML form strings: the one place a page turns text into a number,
a time or a date-and-time.

Python's own readers accept far more than a person types into a form (``Decimal('sNaN')``,
``float('inf')``, ``int('٣')``, ``time.fromisoformat('9')`` fails, ``int(2.7)`` quietly rounds
down), and some of them raise something other than ValueError. Every reader here takes plain
ASCII digits with an optional German decimal comma and refuses anything else as an
``InputError`` naming the field, so a page answers 422 with the reason and never a 500.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from spinecare.errors import InputError

# ASCII only: str.isdigit and the ``\d`` of a str pattern both take Arabic-Indic and other digits.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)", re.ASCII)
_WHOLE = re.compile(r"[+-]?[0-9]+", re.ASCII)
_CLOCK = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]))?", re.ASCII)
# Longer than any number a form asks for; a longer digit string is refused before int() meets
# Python's 4300-digit limit (a ValueError of another kind).
_LONGEST_NUMBER = 40
NOT_A_NUMBER = "not a number (write it like 80.5 or 80,5)"


def number(value: str, field: str) -> Decimal | None:
    """A decimal number (``80.5`` or ``80,5``); None when left empty. NaN, infinities,
    exponents and digits other than 0-9 are refused as not a number."""
    v = value.strip()
    if not v:
        return None
    if len(v) > _LONGEST_NUMBER or not _NUMBER.fullmatch(v):
        raise InputError(field, NOT_A_NUMBER, value)
    return Decimal(v.replace(",", "."))


def real(value: str, field: str) -> float | None:
    """``number`` as a float (the schemas that take floats)."""
    d = number(value, field)
    return None if d is None else float(d)


def whole(value: str, field: str) -> int | None:
    """A whole number; None when left empty. ``2.7`` is refused, not cut to 2."""
    v = value.strip()
    if not v:
        return None
    if len(v) > _LONGEST_NUMBER:
        raise InputError(field, NOT_A_NUMBER, value)
    if not _WHOLE.fullmatch(v):
        if _NUMBER.fullmatch(v):
            raise InputError(field, "a whole number is needed", value)
        raise InputError(field, NOT_A_NUMBER, value)
    return int(v)


def clock(value: str, field: str) -> time | None:
    """A time of day as the browser's time input sends it (``09:30``); None when left empty."""
    v = value.strip()
    if not v:
        return None
    m = _CLOCK.fullmatch(v)
    if m is None:
        raise InputError(field, "expected a time of day as HH:MM (00:00 to 23:59)", value)
    return time(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))


def moment(value: str, field: str) -> datetime:
    """A browser's ``datetime-local`` (``2026-12-01T10:30``), clinic-local."""
    v = value.strip()
    try:
        return datetime.fromisoformat(v)
    except ValueError:
        raise InputError(field, "expected a date and time (YYYY-MM-DD HH:MM)", v) from None


def text(form: Mapping[str, Any], name: str, limit: int) -> str:
    """A text field of a form read by hand: '' when absent. A file sent in its place (a
    multipart upload under a text field's name) and text longer than ``limit`` are refused,
    never stored as the file's repr or cut short."""
    v = form.get(name)
    if v is None:
        return ""
    if not isinstance(v, str):
        raise InputError(name, "expected text, not a file")
    if len(v) > limit:
        raise InputError(name, f"at most {limit} characters (got {len(v)})")
    return v


def switch(value: str | None, field: str, *, on: str = "on", off: str = "off") -> bool:
    """A two-valued form field: ``on`` or ``off`` exactly; any other value is refused rather
    than read as one of them."""
    if value == on:
        return True
    if value == off:
        return False
    raise InputError(field, f"expected {on!r} or {off!r}", value)


def checkbox(value: str | None, field: str) -> bool:
    """A checkbox: absent (or empty) is unticked, ``on`` (what a browser sends) is ticked; any
    other value is refused rather than read as unticked."""
    if value is None or value == "":
        return False
    if value == "on":
        return True
    raise InputError(field, "a checkbox is 'on' or absent", value)
