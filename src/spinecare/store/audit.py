"""The append-only audit log, written in the same transaction as the change it records.

Every flush of a row of an audited table (``models.AUDITED_TABLES``) adds one ``audit_log`` row
with the acting user, the entity and id, the action and full before/after snapshots. Because it
hooks the flush rather than the services, no code path can change clinical data without leaving
a trace, and a rollback removes change and trace together.

Append-only: this module offers inserting and reading only; the migration adds triggers that
reject UPDATE and DELETE on ``audit_log`` (SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event, insert, inspect, select
from sqlalchemy.orm import Session, UOWTransaction

from spinecare.store.base import Base
from spinecare.store.enums import AuditAction
from spinecare.store.models import AUDITED_TABLES, SECRET_COLUMNS, AuditEntry

ACTOR_KEY = "spinecare.actor"


class MissingActorError(RuntimeError):
    """Clinical data was about to change without a known acting user."""


class AuditedSession(Session):
    """The Session class the store hands out; its flushes are audited."""


def set_actor(session: Session, username: str) -> None:
    """Name the user on whose behalf the following changes are made."""
    session.info[ACTOR_KEY] = username


def current_actor(session: Session) -> str | None:
    actor = session.info.get(ACTOR_KEY)
    return str(actor) if actor is not None else None


def jsonable(value: Any) -> Any:
    """A column value as JSON: Decimals as exact strings, dates and instants as ISO 8601
    [iso8601]."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _column_keys(obj: Base) -> list[str]:
    return [attr.key for attr in inspect(obj).mapper.column_attrs]


def snapshot(obj: Base) -> dict[str, Any]:
    """The row's current values (secrets masked)."""
    return {
        key: ("***" if key in SECRET_COLUMNS else jsonable(getattr(obj, key)))
        for key in _column_keys(obj)
    }


def _before_after(obj: Base) -> tuple[dict[str, Any], dict[str, Any], set[str]]:
    state = inspect(obj)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    changed: set[str] = set()
    for key in _column_keys(obj):
        hist = state.attrs[key].history
        new = getattr(obj, key)
        old = hist.deleted[0] if hist.deleted else new
        if hist.added and (not hist.deleted or hist.added[0] != hist.deleted[0]):
            changed.add(key)
        mask = key in SECRET_COLUMNS
        before[key] = "***" if mask else jsonable(old)
        after[key] = "***" if mask else jsonable(new)
    return before, after, changed


def _entity(obj: object) -> str | None:
    table = getattr(obj, "__tablename__", None)
    return table if table in AUDITED_TABLES else None


def _entity_id(obj: Base) -> str:
    # identity is only assigned after the flush; the primary key attributes are set already
    ident = inspect(obj).mapper.primary_key_from_instance(obj)
    return ",".join(str(part) for part in ident)


@event.listens_for(AuditedSession, "after_flush")
def _audit_flush(session: Session, flush_context: UOWTransaction) -> None:
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for obj in session.new:
        if (entity := _entity(obj)) is not None:
            rows.append(_row(now, entity, _entity_id(obj), AuditAction.CREATE, None, snapshot(obj)))
    for obj in session.dirty:
        if (entity := _entity(obj)) is None:
            continue
        before, after, changed = _before_after(obj)
        if not changed:
            continue
        soft_deleted = "deleted_at" in changed and before.get("deleted_at") is None
        action = AuditAction.DELETE if soft_deleted else AuditAction.UPDATE
        rows.append(_row(now, entity, _entity_id(obj), action, before, after))
    for obj in session.deleted:
        if (entity := _entity(obj)) is not None:
            rows.append(_row(now, entity, _entity_id(obj), AuditAction.DELETE, snapshot(obj), None))
    if not rows:
        return
    actor = current_actor(session)
    if actor is None:
        raise MissingActorError(
            f"{rows[0]['entity']} changed without an acting user (set_actor first)"
        )
    for row in rows:
        row["actor"] = actor
    session.connection().execute(insert(AuditEntry), rows)


def _row(
    at: datetime,
    entity: str,
    entity_id: str,
    action: AuditAction,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "at": at,
        "entity": entity,
        "entity_id": entity_id,
        "action": action.value,
        "before": before,
        "after": after,
    }


def record_event(
    session: Session,
    entity: str,
    entity_id: str | int,
    action: AuditAction,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Append an entry that is not a row change (e.g. a screening decision)."""
    actor = current_actor(session)
    if actor is None:
        raise MissingActorError(f"{entity} event without an acting user (set_actor first)")
    row = _row(datetime.now(UTC), entity, str(entity_id), action, before, after)
    row["actor"] = actor
    session.execute(insert(AuditEntry), [row])


def audit_entries(
    session: Session, entity: str | None = None, entity_id: str | int | None = None
) -> Sequence[AuditEntry]:
    """Entries oldest first, optionally for one entity (and one id)."""
    stmt = select(AuditEntry).order_by(AuditEntry.id)
    if entity is not None:
        stmt = stmt.where(AuditEntry.entity == entity)
    if entity_id is not None:
        stmt = stmt.where(AuditEntry.entity_id == str(entity_id))
    return session.scalars(stmt).all()
