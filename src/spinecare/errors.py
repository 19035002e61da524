"""Errors that reach a user: always a field and a reason, never a stack trace."""

from __future__ import annotations

import datetime as dt
import enum
import unicodedata
from decimal import Decimal
from pathlib import PurePath
from typing import Any

# Characters refused in every text (arguments, stored texts, settings); ``store/text.py`` shows
# them escaped on a terminal.
# Unicode bidirectional embeddings, overrides and isolates (the "Trojan source" characters)
# [unicode-tr9], the implicit directional marks (LRM, RLM, ALM: they too reorder what a
# terminal shows around them), and the line and paragraph separators, which terminals render
# as line breaks.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_SEPARATORS = frozenset("\u2028\u2029")


# Format characters (category Cf) are invisible: a zero-width space, a word joiner, a soft
# hyphen, a byte-order mark or a tag character inside a name makes two names that look the
# same differ (a second record for one patient, a look-alike user name) [unicode-tr36]. The
# zero-width joiner and non-joiner are kept: Persian, Indic scripts and emoji need them.
_JOINERS = frozenset("\u200c\u200d")


def is_unsafe(ch: str) -> bool:
    """A character no stored text, argument or setting may hold."""
    if ch in _BIDI or ch in _SEPARATORS:
        return True
    # Cc: C0 controls, DEL and C1 controls (ESC, CSI, ...); Cs: lone surrogates, which is how
    # Python decodes bytes that are not UTF-8 in command-line arguments; Cf: above.
    cat = unicodedata.category(ch)
    return cat in ("Cc", "Cs") or (cat == "Cf" and ch not in _JOINERS)


def unsafe_character(text: str) -> str | None:
    """The first character of ``text`` that a stored text may not hold, described (e.g.
    ``'U+001B'``), or None when there is none."""
    for ch in text:
        if is_unsafe(ch):
            return f"U+{ord(ch):04X}"
    return None


def refuse_reason(text: str) -> str | None:
    """Why ``text`` may not be stored (None: it may)."""
    bad = unsafe_character(text)
    if bad is None:
        return None
    return f"control or formatting characters are not allowed ({bad})"


# Fields whose value is never repeated in a message (a password typed too short, a token).
SECRET_FIELDS = ("password", "secret", "token", "database_url")
SHOWN_MAX = 80  # characters of a refused value shown; the rest is cut


def shown_value(value: Any, field: str = "") -> str:
    """`` (got 'x')`` for a refused value in an error message; nothing for a secret (a
    pydantic ``SecretStr``, however masked, or any field named like a password), a record
    (a mapping or a model) or nothing at all. Long values are cut."""
    if value is None or any(word in field.lower() for word in SECRET_FIELDS):
        return ""
    text = _plain(value)
    if text is None:
        return ""
    return f" (got {text[:SHOWN_MAX]}{'...' if len(text) > SHOWN_MAX else ''})"


def _plain(value: Any) -> str | None:
    """A plain value as written (text quoted, a path as its text); None for anything else."""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, PurePath):
        return repr(str(value))
    if isinstance(value, int | float | Decimal | dt.date | dt.time):
        return str(value)
    if isinstance(value, list | tuple):
        items = [_plain(v) for v in value]
        if all(i is not None for i in items):
            return "[" + ", ".join(i for i in items if i is not None) + "]"
    return None  # a secret (SecretStr), a record, any other object: its repr says nothing


class InputError(ValueError):
    """Bad input at an edge (CLI argument, file, form field, API body)."""

    def __init__(self, field: str, reason: str, value: Any = None) -> None:
        self.field = field
        self.reason = reason
        self.value = value
        super().__init__(f"{field}: {reason}{shown_value(value, field)}")


def describe_validation_error(exc: Any) -> str:
    """One line from a pydantic ValidationError: the first failing field, its reason and value."""
    errors = exc.errors()
    if not errors:
        return str(exc)
    first = errors[0]
    msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    loc = ".".join(str(p) for p in first.get("loc", ()))
    if not loc:
        # A cross-field rule: its message starts with the field it is about ("field: reason").
        return msg + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else "")
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{loc}: {msg}{shown_value(first.get('input'), loc)}{more}"
