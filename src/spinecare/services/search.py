"""Finding patients the way the front desk types: any case, with or without accents, by name,
by birth date (German ``14.03.1962`` or ISO ``1962-03-14``) or by id."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from sqlalchemy.orm import Session

from spinecare.services.auth import Actor
from spinecare.services.patients import PatientPublic, list_patients

_DE_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
# Letters that NFKD does not decompose but a German or Nordic name may hold.
_FOLD = str.maketrans({"ß": "ss", "ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d"})
# A clinic's whole register is searched (accents cannot be folded in SQL on every backend).
MAX_PATIENTS = 100_000


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


def patients_filter(patients: list[PatientPublic], query: str | None) -> list[PatientPublic]:
    """The patients that ``query`` finds: a birth date, an id, or a part of the name."""
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


def search_patients(
    db: Session, actor: Actor, query: str | None, *, include_deleted: bool = False
) -> list[PatientPublic]:
    """Patients found by ``query`` (every patient for an empty query), ordered by name."""
    everyone = list_patients(db, actor, limit=MAX_PATIENTS, include_deleted=include_deleted)
    return patients_filter(everyone, query)
