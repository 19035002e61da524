"""Finding patients the way the front desk types: any case, with or without accents, by name or
by birth date (German ``14.03.1962`` or ISO ``1962-03-14``)."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from spinecare.services.patients import PatientPublic

_DE_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
# Letters that NFKD does not decompose but a German or Nordic name may hold.
_FOLD = str.maketrans({"ß": "ss", "ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d"})


def fold(text: str) -> str:
    """Lower case without accents: 'Zoë Öztürk' -> 'zoe ozturk', 'Weiß' -> 'weiss'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def parse_date(text: str) -> date | None:
    t = text.strip()
    m = _DE_DATE.match(t)
    try:
        if m:
            return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        return date.fromisoformat(t) if len(t) == 10 else None
    except ValueError:
        return None


def search_patients(patients: list[PatientPublic], query: str | None) -> list[PatientPublic]:
    q = (query or "").strip()
    if not q:
        return patients
    day = parse_date(q)
    if day is not None:
        return [p for p in patients if p.birth_date == day]
    if q.isdecimal():
        return [p for p in patients if p.id == int(q)]
    needle = fold(q)
    return [p for p in patients if needle in fold(p.name)]
