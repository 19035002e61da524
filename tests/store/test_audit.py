"""The audit log: one entry per change with before/after, same transaction, append-only."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, text, update
from sqlalchemy.exc import DBAPIError

from spinecare.store import Store
from spinecare.store.audit import (
    GENESIS,
    ChainHeadMissingError,
    ChainReport,
    MissingActorError,
    audit_entries,
    entry_hash,
    verify_chain,
)
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


# --- the hash chain ----------------------------------------------------------------------------


def _history(store: Store, n: int = 3) -> int:
    """A patient created and changed ``n`` times: 1 + n entries. Returns the patient's id."""
    with store.unit_of_work("dr.a") as s:
        p = _patient()
        s.add(p)
        s.flush()
        pid = p.id
    for k in range(n):
        with store.unit_of_work("dr.b") as s:
            s.get_one(Patient, pid).weight_kg = Decimal(71 + k)
    return pid


def _drop_append_only_triggers(store: Store) -> None:
    """What an attacker with database rights does first."""
    with store.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_change ON audit_log"))


def _verify(store: Store) -> ChainReport:
    with store.session() as s:
        return verify_chain(s)


def test_an_untouched_log_verifies(store: Store) -> None:
    assert _verify(store).intact and _verify(store).entries == 0
    _history(store)
    report = _verify(store)
    assert report.intact and report.entries == 4 and report.last_id == 4
    with store.session() as s:
        entries = audit_entries(s)
        assert entries[0].prev_hash == GENESIS
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
        assert [e.at for e in entries] == sorted(e.at for e in entries)


def test_a_forged_back_dated_insert_is_evident(store: Store) -> None:
    _history(store)
    with store.session() as s:
        last = audit_entries(s)[-1]
    at = datetime(2020, 1, 1, tzinfo=UTC)
    forged = {
        "id": last.id + 1, "at": at, "actor": "dr.a", "entity": "patients", "entity_id": "1",
        "action": "update", "before": {"weight_kg": "99.0"}, "after": {"weight_kg": "70.0"},
        "prev_hash": last.hash,
    }  # fmt: skip
    # even with a hash computed the way spinecare computes it
    forged["hash"] = entry_hash(
        last.hash, last.id + 1, at, "dr.a", "patients", "1", "update",
        forged["before"], forged["after"],
    )  # fmt: skip
    with store.engine.begin() as conn:
        conn.execute(insert(AuditEntry.__table__).values(**forged))
    report = _verify(store)
    assert not report.intact and report.broken_at == last.id + 1
    assert "back-dated" in report.reason


def test_a_forged_insert_with_a_made_up_hash_is_evident(store: Store) -> None:
    _history(store)
    with store.engine.begin() as conn:
        conn.execute(
            insert(AuditEntry.__table__).values(
                id=99, at=datetime.now(UTC), actor="x", entity="patients", entity_id="1",
                action="update", before=None, after=None, prev_hash="0" * 64, hash="f" * 64,
            )
        )  # fmt: skip
    report = _verify(store)
    assert not report.intact and report.broken_at == 99


def test_a_rewrite_after_dropping_the_trigger_names_the_entry(store: Store) -> None:
    _history(store)
    _drop_append_only_triggers(store)
    with store.engine.begin() as conn:
        conn.execute(update(AuditEntry.__table__).where(AuditEntry.id == 2).values(actor="dr.c"))
    report = _verify(store)
    assert report.broken_at == 2 and "changed after it was written" in report.reason


def test_removed_entries_are_evident_in_the_middle_and_at_the_end(store: Store) -> None:
    _history(store)
    _drop_append_only_triggers(store)
    with store.engine.begin() as conn:
        conn.execute(delete(AuditEntry.__table__).where(AuditEntry.id == 4))
    report = _verify(store)
    assert report.broken_at == 4 and "removed" in report.reason  # cut off at the end
    with store.engine.begin() as conn:
        conn.execute(delete(AuditEntry.__table__).where(AuditEntry.id == 2))
    report = _verify(store)
    assert report.broken_at == 3 and "does not follow" in report.reason


def test_writes_stop_when_the_chain_head_is_gone(store: Store) -> None:
    _history(store, 1)
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_chain"))
    pid = 1
    with pytest.raises(ChainHeadMissingError), store.unit_of_work("dr.a") as s:
        s.get_one(Patient, pid).weight_kg = Decimal("80.0")
    with store.session() as s:
        assert s.get_one(Patient, pid).weight_kg == Decimal("71.0")
    assert not _verify(store).intact


@given(
    values=st.lists(
        st.one_of(
            st.integers(-(2**53), 2**53),
            st.floats(allow_nan=False, allow_infinity=False, width=64),
            st.text(max_size=20),
            st.booleans(),
            st.none(),
        ),
        max_size=6,
    )
)
@settings(max_examples=40, deadline=None)
def test_the_hash_survives_a_json_round_trip(values: list[object]) -> None:
    """What JSON storage hands back (JSONB normalises numbers) hashes like what was written."""
    at = datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC)
    after = {"values": values, "n": 260.0}
    again = json.loads(json.dumps(after))
    again["n"] = 260  # JSONB may return 260.0 as 260
    one = entry_hash(GENESIS, 1, at, "a", "patients", "1", "update", None, after)
    two = entry_hash(GENESIS, 1, at, "a", "patients", "1", "update", None, again)
    assert one == two


def test_the_upgrade_chains_the_entries_already_written(db_url: str) -> None:
    """A database of an older schema keeps its audit entries, now chained and verifiable."""
    from spinecare.store import migrate, open_store
    from spinecare.store.engine import make_engine

    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine, "0003_session_running")
        with engine.begin() as conn:
            for k in range(3):
                conn.execute(
                    text(
                        "INSERT INTO audit_log (at, actor, entity, entity_id, action, after) "
                        "VALUES (:at, 'dr.a', 'patients', '1', 'create', :after)"
                    ),
                    {
                        "at": datetime(2026, 1, 5, 9, k, tzinfo=UTC),
                        "after": json.dumps({"name": f"P{k}", "w": 70.5 + k}),
                    },
                )
    finally:
        engine.dispose()
    store = open_store(url=db_url)
    try:
        report = _verify(store)
        assert report.intact and report.entries == 3
        with store.unit_of_work("dr.a") as s:
            s.add(_patient())
        report = _verify(store)
        assert report.intact and report.entries == 4
    finally:
        store.dispose()


@pytest.mark.parametrize(
    ("column", "value", "what"),
    [
        ("after", "{not json", "not valid JSON"),
        ("before", "[" * 5000, "nested too deeply"),
        ("at", "garbage", "date is not a date"),
    ],
    ids=["not-json", "nested", "not-a-date"],
)
def test_an_entry_that_cannot_be_read_breaks_the_chain_there(
    store: Store, column: str, value: str, what: str
) -> None:
    """Text changed behind the triggers' back that is not JSON (or a date) is a broken chain
    naming that entry: decoding it raised out of the walk (``audit verify`` exit 70). SQLite
    only: PostgreSQL's jsonb and timestamptz columns refuse such text."""
    if store.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's column types refuse text that is not JSON or a date")
    _history(store)
    _drop_append_only_triggers(store)
    with store.engine.begin() as conn:
        conn.execute(text(f"UPDATE audit_log SET {column} = :v WHERE id = 3"), {"v": value})
    report = _verify(store)
    assert not report.intact and report.broken_at == 3 and report.entries == 3
    assert "cannot be read" in report.reason and what in report.reason


def test_json_nested_beyond_the_hash_s_recursion_is_unreadable_too(store: Store) -> None:
    """Valid JSON deep enough that hashing it recurses too far: named, never raised."""
    _history(store)
    _drop_append_only_triggers(store)
    deep = "[" * 700 + "]" * 700
    cast = "CAST(:v AS jsonb)" if store.engine.dialect.name == "postgresql" else ":v"
    with store.engine.begin() as conn:
        conn.execute(text(f"UPDATE audit_log SET after = {cast} WHERE id = 2"), {"v": deep})
    report = _verify(store)
    assert report.broken_at == 2 and "cannot be read" in report.reason
