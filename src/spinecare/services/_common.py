"""Plumbing shared by the use cases: attributing changes, the clock, loading or 404."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, TypeVar

from pydantic import BeforeValidator
from sqlalchemy.orm import Session

from spinecare.services.auth import Actor
from spinecare.services.errors import NotFoundError
from spinecare.store.audit import lock_chain, set_actor
from spinecare.store.base import Base

M = TypeVar("M", bound=Base)


def act_as(session: Session, actor: Actor) -> None:
    """Attribute the session's following changes to ``actor`` in the audit log, and make its
    transaction the database's only writer from here to its commit or rollback.

    A use case checks before it writes (is this session billed already, this slot free, this
    username taken, another admin left?). Two requests at once, a double click or two tabs,
    would both pass the checks and both write: one session billed twice, the table booked twice
    for a whole course. Every audited write takes the audit chain's lock when it is flushed;
    taking it here, before the checks, makes the second request wait for the first one's commit
    and read what it wrote. A clinic's writes are short, so the wait is too (at most the store's
    lock timeout, then "busy, try again")."""
    set_actor(session, actor.username)
    lock_chain(session)


def utcnow(now: datetime | None = None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def as_utc(t: datetime) -> datetime:
    """A stored instant as an aware UTC time: SQLite hands back naive UTC instants,
    PostgreSQL aware ones."""
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def load(session: Session, model: type[M], ident: int, entity: str) -> M:
    obj = session.get(model, ident)
    if obj is None:
        raise NotFoundError(entity, ident)
    return obj


def whole_number(value: object) -> object:
    """Before an ``int`` field: refuse true/false, which pydantic would take for 1 and 0 (a
    pain score of ``true``), and a fractional or non-finite number; the rest is pydantic's."""
    if isinstance(value, bool):
        raise ValueError("expected a whole number, not true or false")
    return value


WholeNumber = Annotated[int, BeforeValidator(whole_number)]
