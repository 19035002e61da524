"""The append-only audit log, written in the same transaction as the change it records.

Every flush of a row of an audited table (``models.AUDITED_TABLES``) adds one ``audit_log`` row
with the acting user, the entity and id, the action and full before/after snapshots. Because it
hooks the flush rather than the services, no code path can change clinical data without leaving
a trace, and a rollback removes change and trace together.

Append-only: this module offers inserting and reading only; the migration adds triggers that
reject UPDATE and DELETE on ``audit_log`` (SQLite and PostgreSQL).

Tamper-evident: each entry stores ``prev_hash`` (the hash of the entry before it) and ``hash``,
the SHA-256 of its own content and ``prev_hash`` [schneier-kelsey1999]. An entry changed after
it was written no longer matches its hash; one removed or slipped in breaks the link of the
entry after it; ``audit_chain`` holds the newest entry, so entries cut off at the end show too.
Writers take the chain head's row lock before they append, so the chain never forks, and an
entry is never dated before the one it follows (a back-dated entry cannot be a real one).
:func:`verify_chain` walks the log and names the first entry that breaks the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event, insert, inspect, select, update
from sqlalchemy.orm import Session, UOWTransaction

from spinecare.store.base import Base
from spinecare.store.enums import AuditAction
from spinecare.store.models import (
    AUDITED_TABLES,
    SECRET_COLUMNS,
    UNAUDITED_COLUMNS,
    AuditChainHead,
    AuditEntry,
)

ACTOR_KEY = "spinecare.actor"
GENESIS = "0" * 64  # the "previous hash" of the first entry


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
        if (
            hist.added
            and (not hist.deleted or hist.added[0] != hist.deleted[0])
            and key not in UNAUDITED_COLUMNS
        ):
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
    _append(session, rows)


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
    _append(session, [row])


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


# --- the hash chain ------------------------------------------------------------------------


class ChainHeadMissingError(RuntimeError):
    """The audit chain's head row is gone: the log has been tampered with."""


def _number(value: int | float | Decimal) -> str:
    """A number as exact normalised decimal text: 260, 260.0 and 2.6E+2 hash alike, as JSON
    storage (JSONB) may return any of them for what was written."""
    text = str(Decimal(str(value)).normalize())
    return "0" if text in ("-0", "0E+0") else text


def _canonical(value: Any) -> str:
    """Deterministic text of a JSON value: sorted keys, ASCII escapes, normalised numbers."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int | float | Decimal):
        return _number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=True)
    if isinstance(value, dict):
        items = sorted((str(k), v) for k, v in value.items())
        return "{" + ",".join(f"{json.dumps(k)}:{_canonical(v)}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_canonical(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=True)


def _instant(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    prev_hash: str,
    entry_id: int,
    at: datetime,
    actor: str,
    entity: str,
    entity_id: str,
    action: str,
    before: Any,
    after: Any,
) -> str:
    """SHA-256 (hex) of one entry's content and the hash of the entry before it."""
    text = _canonical(
        {
            "prev": prev_hash,
            "id": entry_id,
            "at": _instant(at),
            "actor": actor,
            "entity": entity,
            "entity_id": entity_id,
            "action": action,
            "before": before,
            "after": after,
        }
    )
    return hashlib.sha256(text.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainHead:
    last_id: int
    last_hash: str
    last_at: datetime | None


def lock_chain(session: Session) -> ChainHead:
    """Take the chain head's row lock for this transaction and return the head.

    The first statement is a write (an UPDATE that changes nothing): on PostgreSQL it waits for
    any other appender to commit and then sees its entries; on SQLite it takes the writer lock
    before anything is read. Also used to serialise other once-only work (the first admin)."""
    conn = session.connection()
    conn.execute(
        update(AuditChainHead).where(AuditChainHead.id == 1).values(last_id=AuditChainHead.last_id)
    )
    row = conn.execute(
        select(AuditChainHead.last_id, AuditChainHead.last_hash, AuditChainHead.last_at).where(
            AuditChainHead.id == 1
        )
    ).first()
    if row is None:
        raise ChainHeadMissingError("audit_chain has no head row")
    return ChainHead(row.last_id, row.last_hash, row.last_at)


def _append(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` at the end of the chain (ids, dates and hashes assigned here)."""
    head = lock_chain(session)
    last_id, prev, last_at = head.last_id, head.last_hash, head.last_at
    for row in rows:
        last_id += 1
        # Never dated before the entry it follows: the clocks of two writers may differ by a
        # little, a back-dated entry would make every real one look forged.
        at: datetime = row["at"]
        if last_at is not None and at < last_at:
            at = last_at
        row.update(id=last_id, at=at, prev_hash=prev)
        row["hash"] = prev = entry_hash(
            prev, last_id, at, row["actor"], row["entity"], row["entity_id"], row["action"],
            _json(row["before"]), _json(row["after"]),
        )  # fmt: skip
        last_at = at
    conn = session.connection()
    conn.execute(insert(AuditEntry), rows)
    conn.execute(
        update(AuditChainHead)
        .where(AuditChainHead.id == 1)
        .values(last_id=last_id, last_hash=prev, last_at=last_at)
    )


def _json(value: Any) -> Any:
    """What the database will hand back for ``value`` (a JSON round trip)."""
    return None if value is None else json.loads(json.dumps(value, default=str))


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The result of :func:`verify_chain`: ``broken_at`` is the first entry that breaks the
    chain (None when intact), ``reason`` says how."""

    entries: int
    last_id: int
    last_hash: str
    broken_at: int | None = None
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None and not self.reason


def _raw_entries(session: Session, batch: int) -> Any:
    """The log's rows oldest first, with ``at``, ``before`` and ``after`` as stored (text on
    SQLite, JSON as text on PostgreSQL), not decoded by the column types.

    A row changed behind the triggers' back may hold text that is not JSON, nested beyond
    Python's recursion limit, or a date that is not one: decoded by the ORM, it raised
    JSONDecodeError, RecursionError or ValueError out of the walk (exit 70) instead of naming
    the entry. :func:`_decoded` decodes each row on its own."""
    from sqlalchemy import Text, cast, type_coerce

    t = AuditEntry.__table__
    sqlite = session.get_bind().dialect.name == "sqlite"
    at = type_coerce(t.c.at, Text) if sqlite else t.c.at
    cols = [
        t.c.id, at.label("at"), t.c.actor, t.c.entity, t.c.entity_id, t.c.action,
        cast(t.c.before, Text).label("before"), cast(t.c.after, Text).label("after"),
        t.c.prev_hash, t.c.hash,
    ]  # fmt: skip
    stmt = select(*cols).order_by(t.c.id).execution_options(yield_per=batch)
    return session.execute(stmt)


def _decoded(session: Session, row: Any) -> tuple[datetime, Any, Any]:
    """(at, before, after) of a raw row, as the ORM would give them; raises ValueError naming
    the column that cannot be read."""
    at: Any = row.at
    if not isinstance(at, datetime):
        dialect = session.get_bind().dialect
        process = AuditEntry.__table__.c.at.type.dialect_impl(dialect).result_processor(
            dialect, None
        )
        try:
            at = process(at) if process is not None else at
        except (ValueError, TypeError, OverflowError):
            raise ValueError("its date is not a date") from None
    if not isinstance(at, datetime):
        raise ValueError("its date is not a date")
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    values: list[Any] = []
    for name in ("before", "after"):
        raw = getattr(row, name)
        try:
            values.append(None if raw is None else json.loads(raw))
        except RecursionError:
            raise ValueError(f"its {name} is nested too deeply to be read") from None
        except (ValueError, TypeError):
            raise ValueError(f"its {name} is not valid JSON") from None
    return at, values[0], values[1]


def verify_chain(session: Session, *, batch: int = 1000) -> ChainReport:
    """Walk the log oldest first and check every link, every hash, the dates and the head.

    An entry that cannot be read at all (its JSON or date was changed behind the triggers'
    back) breaks the chain there like any other change: it is named, never raised."""
    prev_hash, prev_id, prev_at = GENESIS, 0, None
    count = 0
    for e in _raw_entries(session, batch):
        count += 1
        where = f"the entry before it (#{prev_id})" if prev_id else "the start of the log"
        if e.prev_hash != prev_hash:
            return ChainReport(
                count, e.id, str(e.hash or ""), e.id,
                f"does not follow {where}: an entry was removed, inserted or reordered there",
            )  # fmt: skip
        try:
            at, before, after = _decoded(session, e)
            expected = entry_hash(
                e.prev_hash, e.id, at, e.actor, e.entity, e.entity_id, e.action, before, after
            )
            back_dated = prev_at is not None and at < prev_at
        except RecursionError:
            what = "its content is nested too deeply to be read"
            return ChainReport(count, e.id, str(e.hash or ""), e.id, _unreadable(what))
        except (ValueError, TypeError, OverflowError) as exc:
            return ChainReport(count, e.id, str(e.hash or ""), e.id, _unreadable(str(exc)))
        if e.hash != expected:
            return ChainReport(
                count, e.id, str(e.hash or ""), e.id,
                "its content does not match its hash: it was changed after it was written",
            )  # fmt: skip
        if back_dated:
            return ChainReport(
                count, e.id, e.hash, e.id,
                f"it is dated before {where}: it was not written when it says (back-dated)",
            )  # fmt: skip
        prev_hash, prev_id, prev_at = e.hash, e.id, at
    head = session.execute(
        select(AuditChainHead.last_id, AuditChainHead.last_hash).where(AuditChainHead.id == 1)
    ).first()
    if head is None:
        return ChainReport(count, prev_id, prev_hash, None, "the chain's head record is missing")
    if (head.last_id, head.last_hash) != (prev_id, prev_hash):
        if head.last_id == prev_id:
            first = prev_id
            reason = "the chain's head does not match the last entry: one of them was changed"
        elif head.last_id > prev_id:
            first = prev_id + 1
            reason = (
                f"the log ends at #{prev_id} but its head names #{head.last_id}: "
                "entries at the end were removed"
            )
        else:
            first = head.last_id + 1
            reason = (
                f"the log ends at #{prev_id} but its head names #{head.last_id}: entries were "
                "added at the end without the chain's lock, or the head was changed"
            )
        return ChainReport(count, prev_id, prev_hash, first, reason)
    return ChainReport(count, prev_id, prev_hash)


def _unreadable(what: str) -> str:
    """The reason for an entry that cannot be decoded: nothing spinecare writes is unreadable,
    so it was changed after it was written."""
    return f"it cannot be read ({what}): it was changed after it was written"


def entry_hash_of(session: Session, entry_id: int) -> str | None:
    """The stored hash of entry ``entry_id`` (None if there is no such entry)."""
    return session.scalar(select(AuditEntry.hash).where(AuditEntry.id == entry_id))
