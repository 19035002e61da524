"""Characters that never belong in a stored text, and showing any text safely on a terminal.

A patient name holding ``ESC [ 2 J`` clears the screen of whoever lists patients; bidirectional
overrides make a terminal show text in another order than it is stored. Every text field
refuses them (:func:`unsafe_character`); every text printed to a terminal goes through
:func:`printable`, which shows them escaped (data stored before the check included).

Pure Python, no SQLAlchemy: the CLI imports this module at start-up.
"""

from __future__ import annotations

import unicodedata

# Unicode bidirectional embeddings, overrides and isolates (the "Trojan source" characters)
# [unicode-tr9], the implicit directional marks (LRM, RLM, ALM: they too reorder what a
# terminal shows around them), and the line and paragraph separators, which terminals render
# as line breaks.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_SEPARATORS = frozenset("\u2028\u2029")


def _unsafe(ch: str) -> bool:
    if ch in _BIDI or ch in _SEPARATORS:
        return True
    # Cc: C0 controls, DEL and C1 controls (ESC, CSI, ...); Cs: lone surrogates, which is how
    # Python decodes bytes that are not UTF-8 in command-line arguments.
    return unicodedata.category(ch) in ("Cc", "Cs")


def unsafe_character(text: str) -> str | None:
    """The first character of ``text`` that a stored text may not hold, described (e.g.
    ``'U+001B'``), or None when there is none."""
    for ch in text:
        if _unsafe(ch):
            return f"U+{ord(ch):04X}"
    return None


def refuse_reason(text: str) -> str | None:
    """Why ``text`` may not be stored (None: it may)."""
    bad = unsafe_character(text)
    if bad is None:
        return None
    return f"control or formatting characters are not allowed ({bad})"


def printable(text: str, *, keep_newlines: bool = True) -> str:
    """``text`` with every unsafe character shown as an escape (``\\x1b``, ``\\u202e``)."""
    if not any(_unsafe(ch) for ch in text):
        return text
    out: list[str] = []
    for ch in text:
        if keep_newlines and ch in "\n\t":
            out.append(ch)
        elif _unsafe(ch):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def json_printable(text: str) -> str:
    """JSON text with the unsafe characters JSON may carry raw (DEL, C1, bidi, separators)
    written as ``\\uXXXX`` escapes: the same JSON value, safe on a terminal."""
    if not any(_unsafe(ch) and ch not in "\n" for ch in text):
        return text
    return "".join(
        f"\\u{ord(ch):04x}" if _unsafe(ch) and ch not in "\n" else ch for ch in text
    )
