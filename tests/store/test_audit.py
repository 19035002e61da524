"""The audit log: one entry per change with before/after, same transaction, append-only."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError

from spinecare.store import Store
from spinecare.store.audit import MissingActorError, audit_entries
from spinecare.store.models import AuditEntry, Patient

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _patient() -> Patient:
    return Patient(
        name="Erika Muster",
        birth_date=date(1960, 4, 1),
        sex="F",
        weight_kg=Decimal("70.0"),
        height_cm=Decimal("165.0"),
        insurance="private",
        icd_consent=False,
        created_at=NOW,
    )


def test_create_update_soft_delete_are_logged(store: Store) -> None:
    with store.unit_of_work("dr.a") as s:
        p = _patient()
        s.add(p)
        s.flush()
        pid = p.id
    with store.unit_of_work("dr.b") as s:
        p = s.get_one(Patient, pid)
        p.weight_kg = Decimal("72.5")
    with store.unit_of_work("dr.b") as s:
        s.get_one(Patient, pid).deleted_at = NOW
    with store.session() as s:
        entries = audit_entries(s, "patients", pid)
        assert [e.action for e in entries] == ["create", "update", "delete"]
        create, upd, soft = entries
        assert create.actor == "dr.a" and create.before is None
        assert create.after is not None and create.after["name"] == "Erika Muster"
        assert upd.actor == "dr.b"
        assert upd.before is not None and upd.after is not None
        assert Decimal(upd.before["weight_kg"]) == Decimal("70.0")
        assert Decimal(upd.after["weight_kg"]) == Decimal("72.5")
        assert soft.after is not None and soft.after["deleted_at"] is not None
        assert s.get_one(Patient, pid).deleted_at is not None  # soft: the row is still there
        assert upd.at.tzinfo is not None


def test_rollback_removes_change_and_its_entry(store: Store) -> None:
    with pytest.raises(RuntimeError), store.unit_of_work("dr.a") as s:
        s.add(_patient())
        s.flush()
        raise RuntimeError("boom")
    with store.session() as s:
        assert audit_entries(s) == []
        assert s.query(Patient).count() == 0


def test_change_without_actor_is_refused(store: Store) -> None:
    with pytest.raises(MissingActorError), store.unit_of_work() as s:
        s.add(_patient())
    with store.session() as s:
        assert s.query(Patient).count() == 0


def test_database_rejects_update_and_delete_of_audit_rows(store: Store) -> None:
    with store.unit_of_work("dr.a") as s:
        s.add(_patient())
    for stmt in (
        update(AuditEntry).values(actor="someone else"),
        delete(AuditEntry),
    ):
        with pytest.raises(DBAPIError, match="append-only"), store.unit_of_work() as s:
            s.execute(stmt)
    with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log"))
    with store.session() as s:
        entries = audit_entries(s)
        assert len(entries) == 1 and entries[0].actor == "dr.a"
