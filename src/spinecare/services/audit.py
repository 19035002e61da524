"""Reading the audit log (admins and physicians): newest first, by entity and id, with a
one-line account of what changed.

The log is written by the store on every flush (``store/audit.py``); this is its reading side
for every face (web page, API, CLI). Reading it needs the role set that manages users.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from spinecare.services.auth import USER_ADMINS, Actor, require_role
from spinecare.store.models import AuditEntry

# The most entries one read returns (a page of the log, not the log).
MAX_ENTRIES = 1000


class AuditEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    entity: str
    entity_id: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def audit_log(
    db: Session,
    actor: Actor,
    *,
    entity: str | None = None,
    entity_id: str | int | None = None,
    by: str | None = None,
    limit: int = 200,
) -> list[AuditEntryPublic]:
    """The newest ``limit`` entries, optionally of one entity (and id) or by one user."""
    require_role(actor, USER_ADMINS, "read the audit log")
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(max(1, min(limit, MAX_ENTRIES)))
    if entity:
        stmt = stmt.where(AuditEntry.entity == entity)
    if entity_id is not None and str(entity_id):
        stmt = stmt.where(AuditEntry.entity_id == str(entity_id))
    if by:
        stmt = stmt.where(AuditEntry.actor == by)
    return [AuditEntryPublic.model_validate(e) for e in db.scalars(stmt)]


def changed_fields(e: AuditEntryPublic) -> str:
    """'weight_kg: 70.0 -> 72.0, ...' for an update; the entity's name or summary otherwise."""
    if e.before and e.after:
        parts: list[str] = []
        for k, v in e.after.items():
            old = e.before.get(k)
            if old == v or k == "updated_at":
                continue
            if isinstance(old, dict) and isinstance(v, dict):  # e.g. a protocol: what moved
                parts += [
                    f"{k}.{sub}: {old.get(sub)} → {new}"
                    for sub, new in v.items()
                    if old.get(sub) != new
                ]
            else:
                parts.append(f"{k}: {old} → {v}")
        return ", ".join(parts)[:300]
    data = e.after or e.before or {}
    keys = ("name", "username", "number", "decision", "status", "kind", "code")
    return ", ".join(f"{k}: {data[k]}" for k in keys if k in data)[:300]
