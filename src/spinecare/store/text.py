"""Characters that never belong in a stored text, and showing any text safely on a terminal.

A patient name holding ``ESC [ 2 J`` clears the screen of whoever lists patients; bidirectional
overrides make a terminal show text in another order than it is stored. Every text field
refuses them (:func:`unsafe_character`); every text printed to a terminal goes through
:func:`printable`, which shows them escaped (data stored before the check included).

Pure Python, no SQLAlchemy: the CLI imports this module at start-up.
"""

from __future__ import annotations

from spinecare.errors import is_unsafe as _unsafe
from spinecare.errors import refuse_reason, unsafe_character

__all__ = ["json_printable", "printable", "refuse_reason", "unsafe_character"]


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
    return "".join(f"\\u{ord(ch):04x}" if _unsafe(ch) and ch not in "\n" else ch for ch in text)
