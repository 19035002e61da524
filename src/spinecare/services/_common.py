"""Plumbing shared by the use cases: attributing changes, the clock, loading or 404."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, TypeVar

from pydantic import BeforeValidator
from sqlalchemy.orm import Session

from spinecare.services.auth import Actor
from spinecare.services.errors import NotFoundError
from spinecare.store.audit import set_actor
from spinecare.store.base import Base

M = TypeVar("M", bound=Base)


def act_as(session: Session, actor: Actor) -> None:
    """Attribute the session's following changes to ``actor`` in the audit log."""
    set_actor(session, actor.username)


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
