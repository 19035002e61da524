"""`spinecare db`: destructive schema commands need an admin, a confirmation and a backup; no
downgrade loses an issued invoice number; backup and restore give back every table."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text
from tests.cli.conftest import ADMIN_PASSWORD, login

Run = Callable[..., tuple[int, str, str]]
PATIENT = (
    "patients", "add", "--name", "Erika Mustermann", "--birth-date", "1962-03-14", "--sex", "F",
    "--weight", "70", "--height", "165", "--insurance", "private", "--json",
)  # fmt: skip


def _url() -> str:
    return os.environ["SPINECARE_DATABASE_URL"]


def _current(cli: Run) -> str | None:
    code, out, err = cli("db", "current", "--json")
    assert code == 0, err
    value: str | None = json.loads(out)["current"]
    return value


def _below(revision: str | None) -> str | None:
    from alembic.script import ScriptDirectory

    from spinecare.store.migrate import alembic_config

    rev = ScriptDirectory.from_config(alembic_config()).get_revision(revision)
    down = rev.down_revision if rev is not None else None
    return down if isinstance(down, str) else None


def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order (the content a restore must give back)."""
    engine = create_engine(url)
    try:
        out: dict[str, list[tuple[Any, ...]]] = {}
        with engine.connect() as conn:
            insp = inspect(conn)
            for table in sorted(insp.get_table_names()):
                pk = insp.get_pk_constraint(table)["constrained_columns"]
                order = ", ".join(f'"{c}"' for c in pk) or "1"
                rows = conn.execute(text(f'SELECT * FROM "{table}" ORDER BY {order}'))
                out[table] = [tuple(r) for r in rows]
        return out
    finally:
        engine.dispose()


def _restore_entry(url: str) -> dict[str, Any]:
    """The restore's audit entry: the newest entry of the restored log."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT actor, entity, entity_id, action, after FROM audit_log "
                     "ORDER BY id DESC LIMIT 1")
            ).one()  # fmt: skip
    finally:
        engine.dispose()
    after = row.after if isinstance(row.after, dict) else json.loads(row.after)
    assert (row.entity, row.entity_id, row.action) == ("database", "restore", "update")
    return {"actor": row.actor, **after}


def assert_restored(url: str, original: dict[str, list[tuple[Any, ...]]]) -> None:
    """Every table as in the backup, and the log one entry longer: the restore's own."""
    now = dump(url)
    log, chain = now.pop("audit_log"), now.pop("audit_chain")
    before_log = original["audit_log"]
    assert {k: v for k, v in original.items() if k not in ("audit_log", "audit_chain")} == now
    assert log[:-1] == before_log and len(log) == len(before_log) + 1
    assert chain[0][1] == log[-1][0]  # the head names the restore's entry


def _issue_an_invoice(url: str) -> None:
    """An issued invoice, written directly (billing flows have their own tests)."""
    from spinecare.store import open_store
    from spinecare.store.audit import set_actor
    from spinecare.store.billing_models import Invoice, InvoiceCounter

    store = open_store(url=url)
    try:
        with store.unit_of_work() as db:
            set_actor(db, "admin")
            db.add(InvoiceCounter(year=2026, last_number=1))
            db.add(
                Invoice(
                    patient_id=1, kind="invoice", status="issued", number="2026-00001",
                    year=2026, sequence=1, scale="standard", lang="de", recipient={"name": "E"},
                    total=Decimal("70.68"), issued_on=date(2026, 11, 2),
                    created_at=datetime.now(UTC),
                )
            )  # fmt: skip
    finally:
        store.dispose()


def test_downgrade_needs_an_admin_a_confirmation_and_writes_a_backup(
    cli_doc: Run, tmp_path: Path
) -> None:
    head = _current(cli_doc)
    code, _, err = cli_doc("db", "downgrade")  # doc is a physician
    assert code == 3 and "may not" in err
    code, _, err = cli_doc("db", "downgrade", "--as", "admin")  # no --yes, no terminal
    assert code == 2 and err.startswith("error: yes:") and err.count("\n") == 1
    code, _, err = cli_doc("db", "downgrade", "--as", "nobody", "--yes")
    assert code == 7 and "not logged in as nobody" in err
    assert _current(cli_doc) == head
    backups = Path(os.environ["SPINECARE_DATA_DIR"]) / "backups"
    assert not backups.exists() or not list(backups.iterdir())
    below = _below(head)
    code, out, err = cli_doc("db", "downgrade", "--as", "admin", "--yes")  # one step
    assert code == 0, err
    assert f"at {below}" in out and "backup of the database written to" in err
    assert _current(cli_doc) == below
    code, out, err = cli_doc("db", "downgrade", "0003_session_running", "--as", "admin", "--yes")
    assert code == 0, err
    assert _current(cli_doc) == "0003_session_running"
    written = sorted(backups.iterdir())
    assert written and all(stat.S_IMODE(w.stat().st_mode) == 0o600 for w in written)
    assert stat.S_IMODE(backups.stat().st_mode) == 0o700
    # Below the logins' revision there are no tokens: the admin's password is asked again.
    code, _, err = cli_doc("db", "downgrade", "base", "--yes")
    assert code == 2 and "--as" in err
    code, _, err = cli_doc(
        "db", "downgrade", "base", "--as", "doc", "--yes", "--password-stdin",
        stdin="a long test password\n",
    )  # fmt: skip
    assert code == 3
    code, out, err = cli_doc(
        "db", "downgrade", "base", "--as", "admin", "--yes", "--password-stdin",
        stdin=ADMIN_PASSWORD + "\n",
    )  # fmt: skip
    assert code == 0 and "base" in out, err
    assert _current(cli_doc) is None
    assert len(list(backups.iterdir())) == len(written) + 1
    code, _, err = cli_doc("db", "downgrade", "--yes")
    assert code == 2 and "no schema" in err


def test_bad_downgrade_targets_change_nothing(cli_doc: Run) -> None:
    head = _current(cli_doc)
    for target in ("-0", "-9", "0999_nope", head or "", "+1"):
        code, _, err = cli_doc("db", "downgrade", target, "--as", "admin", "--yes")
        assert code == 2 and err.startswith("error: revision:"), (target, err)
    assert _current(cli_doc) == head


def test_no_downgrade_loses_an_issued_invoice_number(cli_doc: Run) -> None:
    code, _, err = cli_doc(*PATIENT)
    assert code == 0, err
    _issue_an_invoice(_url())
    before = dump(_url())
    # A relative step that lands on 0001 (below billing) whatever the number of later revisions.
    from alembic.script import ScriptDirectory

    from spinecare.store.migrate import alembic_config

    steps = len(list(ScriptDirectory.from_config(alembic_config()).walk_revisions())) - 1
    for target in ("base", "0001_clinical", f"-{steps}"):
        code, _, err = cli_doc("db", "downgrade", target, "--as", "admin", "--yes")
        assert code == 2 and "issued invoice" in err, err
    assert dump(_url()) == before
    # the migration itself refuses as well, whoever calls it
    from spinecare.store import migrate
    from spinecare.store.engine import make_engine
    from spinecare.store.faults import MigrationRefused

    engine = make_engine(_url())
    try:
        migrate.downgrade(engine, "0002_billing")
        with pytest.raises(MigrationRefused, match="issued invoice"):
            migrate.downgrade(engine, "0001_clinical")
        assert migrate.current_revision(engine) == "0002_billing"
    finally:
        engine.dispose()


def test_backup_and_restore_into_a_fresh_directory_give_back_every_table(
    cli_doc: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = cli_doc(*PATIENT)
    assert code == 0, err
    pid = str(json.loads(out)["id"])
    code, _, err = cli_doc(
        "findings", "diagnosis", "--patient", pid, "--icd10", "M51.2", "--text", "Bandscheibe",
        "--date", "2025-01-10",
    )  # fmt: skip
    assert code == 0, err
    _issue_an_invoice(_url())
    file = tmp_path / "clinic.backup"
    code, _, err = cli_doc("db", "backup", str(file))  # doc: a physician
    assert code == 3
    code, out, err = cli_doc("db", "backup", str(file), "--as", "admin", "--json")
    assert code == 0, err
    assert json.loads(out)["file"] == str(file)
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    code, _, err = cli_doc("db", "backup", str(file), "--as", "admin")
    assert code == 2 and "exists already" in err
    code, _, err = cli_doc("db", "backup", str(tmp_path / "no" / "such" / "f"), "--as", "admin")
    assert code == 2 and "directory does not exist" in err
    original = dump(_url())

    fresh = tmp_path / "fresh-machine"
    monkeypatch.setenv("SPINECARE_DATA_DIR", str(fresh / "data"))
    monkeypatch.delenv("SPINECARE_DATABASE_URL")
    code, _, err = cli_doc("db", "restore", str(file))  # not confirmed
    assert code == 2 and "--yes" in err and not (fresh / "data" / "spinecare.db").exists()
    code, out, err = cli_doc("db", "restore", str(file), "--yes")
    assert code == 0, err
    restored_db = fresh / "data" / "spinecare.db"
    assert stat.S_IMODE(restored_db.stat().st_mode) == 0o600
    assert stat.S_IMODE((fresh / "data").stat().st_mode) == 0o700
    assert_restored(f"sqlite:///{restored_db}", original)
    entry = _restore_entry(f"sqlite:///{restored_db}")
    assert entry["actor"].startswith("system:") and entry["replaced_head"] is None
    # the restored database is usable: log in there and verify its audit log
    login(cli_doc, "doc")
    code, out, err = cli_doc("audit", "verify")
    assert code == 0 and "intact" in out, err
    # restoring over a database with users needs its admin
    code, _, err = cli_doc("db", "restore", str(file), "--yes")
    assert code == 3 and "may not" in err


def test_restore_refuses_what_is_not_a_backup(cli_doc: Run, tmp_path: Path) -> None:
    before = dump(_url())
    junk = tmp_path / "junk.db"
    for content in (b"", b"hello", b"SQLite format 3\x00" + b"\x00" * 200, b"PGDMP garbage"):
        junk.write_bytes(content)
        code, _, err = cli_doc("db", "restore", str(junk), "--as", "admin", "--yes")
        assert code == 2 and err.startswith("error: file:"), err
    code, _, err = cli_doc("db", "restore", str(tmp_path), "--as", "admin", "--yes")
    assert code == 2 and "directory" in err
    code, _, err = cli_doc("db", "restore", str(tmp_path / "missing"), "--as", "admin", "--yes")
    assert code == 2 and "not found" in err
    assert dump(_url()) == before


@pytest.mark.postgres
def test_postgres_backup_and_restore_into_a_fresh_database(
    cli: Run, postgres_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.cli.conftest import create_user
    from tests.conftest import create_postgres_database

    source = create_postgres_database(postgres_server)
    monkeypatch.setenv("SPINECARE_DATABASE_URL", source)
    code, out, err = cli("users", "bootstrap", "--json")
    assert code == 0, err
    one_time = json.loads(out)["one_time_password"]
    code, _, err = cli(
        "login", "--username", "admin", "--password-stdin", stdin=f"{one_time}\n{ADMIN_PASSWORD}\n"
    )
    assert code == 0, err
    create_user(cli, "doc", "physician")
    login(cli, "doc")
    code, _, err = cli(*PATIENT)
    assert code == 0, err
    _issue_an_invoice(source)
    file = tmp_path / "pg.backup"
    code, _, err = cli("db", "backup", str(file), "--as", "admin")
    assert code == 0, err
    assert file.read_bytes()[:5] == b"PGDMP"
    target = create_postgres_database(postgres_server)
    monkeypatch.setenv("SPINECARE_DATABASE_URL", target)
    code, _, err = cli("db", "restore", str(file), "--yes")
    assert code == 0, err
    assert_restored(target, dump(source))
    entry = _restore_entry(target)
    assert entry["restored_from"] == str(file.resolve())


def test_restore_replaces_a_damaged_database(cli_doc: Run, tmp_path: Path) -> None:
    """What a restore is for: the database file is garbage; the backup takes its place and the
    damaged file is kept aside as it was."""
    code, _, err = cli_doc(*PATIENT)
    assert code == 0, err
    file = tmp_path / "clinic.backup"
    code, _, err = cli_doc("db", "backup", str(file), "--as", "admin")
    assert code == 0, err
    original = dump(_url())
    db = Path(_url().removeprefix("sqlite:///"))
    garbage = os.urandom(64 * 1024)
    db.write_bytes(garbage)
    code, _, err = cli_doc("patients", "list")
    assert code == 9 and "damaged" in err
    code, out, err = cli_doc("db", "restore", str(file), "--yes")
    assert code == 0 and "restored" in out, err
    assert_restored(_url(), original)
    kept = list((Path(os.environ["SPINECARE_DATA_DIR"]) / "backups").glob("*-damaged.db"))
    assert len(kept) == 1 and kept[0].read_bytes() == garbage
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def test_restore_gives_up_on_a_database_another_program_holds(
    cli_doc: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python's sqlite3 backup retries a locked database for ever; a restore must say busy
    (exit 8) like every command, and change nothing."""
    import sqlite3

    import spinecare.store.backup as backup

    file = tmp_path / "clinic.backup"
    code, _, err = cli_doc("db", "backup", str(file), "--as", "admin")
    assert code == 0, err
    code, _, err = cli_doc(*PATIENT)  # after the backup: a restore would remove it
    assert code == 0, err
    before = dump(_url())
    monkeypatch.setattr(backup, "TIMEOUT_S", 0.3)
    other = sqlite3.connect(_url().removeprefix("sqlite:///"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the database
    try:
        code, _, err = cli_doc("db", "restore", str(file), "--yes", "--as", "admin")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert code == 8 and err.splitlines()[-1].startswith("error: ") and "busy" in err, err
    assert dump(_url()) == before


def test_audit_verify_after_restoring_an_older_backup(cli_doc: Run, tmp_path: Path) -> None:
    """A restored older log is what the clinic chose, not a log cut back by someone: the next
    check passes (the restore notes the restored log for it)."""
    file = tmp_path / "older.backup"
    code, _, err = cli_doc("db", "backup", str(file), "--as", "admin")
    assert code == 0, err
    code, _, err = cli_doc(*PATIENT)
    assert code == 0, err
    code, _, err = cli_doc("audit", "verify")  # notes the newer log
    assert code == 0, err
    code, _, err = cli_doc("db", "restore", str(file), "--yes", "--as", "admin")
    assert code == 0, err
    code, out, err = cli_doc("audit", "verify", "--as", "admin")
    assert code == 0 and "intact" in out, err


def _backups() -> list[Path]:
    folder = Path(os.environ["SPINECARE_DATA_DIR"]) / "backups"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_a_backup_without_spinecare_s_tables_changes_nothing(cli_doc: Run, tmp_path: Path) -> None:
    """An ``alembic_version`` table alone at a known revision replaced the database, and then
    every command failed (exit 9) while the restore said "Nothing was changed"."""
    import sqlite3

    code, _, err = cli_doc(*PATIENT)
    assert code == 0, err
    before = dump(_url())
    bogus = tmp_path / "emptyrev.db"
    conn = sqlite3.connect(bogus)
    conn.execute("CREATE TABLE alembic_version (version_num)")
    conn.execute("INSERT INTO alembic_version VALUES ('0004_auth_audit_chain')")
    conn.commit()
    conn.close()
    code, _, err = cli_doc("db", "restore", str(bogus), "--yes", "--as", "admin")
    assert code == 2 and err.startswith("error: file:") and err.count("\n") == 1, err
    assert "is not a whole spinecare database" in err and "lacks" in err
    assert dump(_url()) == before and _backups() == []
    code, out, err = cli_doc("patients", "list", "--as", "admin")
    assert code == 0 and "Erika" in out, err


def _tampered_copy(src: Path, dest: Path, old: bytes, new: bytes) -> None:
    """``src`` with bytes of one audit entry's text overwritten in place: still a sound SQLite
    file (integrity_check ok), but the entry no longer matches its hash."""
    import sqlite3

    data = src.read_bytes()
    at = data.find(old)
    assert at > 0 and len(old) == len(new)
    dest.write_bytes(data[:at] + new + data[at + len(old) :])
    conn = sqlite3.connect(dest)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b'"Erika Mustermann"', b'"Erika MusterXXXX"'),
        (b'"Erika Mustermann"', b'XXXXka Mustermann"'),
    ],
    ids=["changed-text", "not-json"],
)
def test_a_backup_whose_audit_log_is_broken_is_refused_unless_accepted(
    cli_doc: Run, tmp_path: Path, old: bytes, new: bytes
) -> None:
    """The backup's chain is verified before the database is touched: refused with status 11
    naming the entry (it replaced the database, then said "Nothing was changed" or exit 70);
    --accept-broken-audit restores it, and the restore's entry says the chain was broken."""
    code, _, err = cli_doc(*PATIENT)
    assert code == 0, err
    good = tmp_path / "good.db"
    code, _, err = cli_doc("db", "backup", str(good), "--as", "admin")
    assert code == 0, err
    code, _, err = cli_doc(
        "users", "create", "--username", "nurse", "--role", "therapist", "--password-stdin",
        "--as", "admin", stdin="a long test password\n",
    )  # fmt: skip
    assert code == 0, err
    bad = tmp_path / "bad.db"
    _tampered_copy(good, bad, old, new)
    before = dump(_url())
    code, _, err = cli_doc("db", "restore", str(bad), "--yes", "--as", "admin")
    assert code == 11 and err.count("\n") == 1, err
    assert "audit log broken at entry #" in err and "--accept-broken-audit" in err
    assert dump(_url()) == before and _backups() == []
    code, out, err = cli_doc(
        "db", "restore", str(bad), "--yes", "--as", "admin", "--accept-broken-audit"
    )
    assert code == 0 and "restored" in out and "broken at entry #" in err, err
    assert len(_backups()) == 1  # the safety backup of the database it replaced
    entry = _restore_entry(_url())
    assert entry["actor"] == "admin" and entry["backup_head"]["intact"] is False


def test_a_restore_and_a_downgrade_are_in_the_audit_log(cli_doc: Run, tmp_path: Path) -> None:
    """After a restore the log names the backup, its head and the head of the log it replaced
    (it used to simply end at the backup's last entry); a downgrade is noted before it runs."""
    file = tmp_path / "older.backup"
    code, _, err = cli_doc("db", "backup", str(file), "--as", "admin")
    assert code == 0, err
    original = dump(_url())
    code, _, err = cli_doc(*PATIENT)
    assert code == 0, err
    live_head = dump(_url())["audit_chain"][0]
    code, _, err = cli_doc("db", "restore", str(file), "--yes", "--as", "admin")
    assert code == 0, err
    assert_restored(_url(), original)
    entry = _restore_entry(_url())
    assert entry["actor"] == "admin" and entry["restored_from"] == str(file.resolve())
    assert entry["replaced_head"] == {"id": live_head[1], "hash": live_head[2]}
    assert entry["backup_head"]["id"] == original["audit_chain"][0][1]
    assert entry["safety_backup"] == str(_backups()[0])
    code, out, err = cli_doc("audit", "verify", "--as", "admin")
    assert code == 0 and "intact" in out, err

    head = _current(cli_doc)
    code, _, err = cli_doc("db", "downgrade", "--yes", "--as", "admin")
    assert code == 0, err
    engine = create_engine(_url())
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT actor, entity, entity_id, before, after FROM audit_log "
                 "ORDER BY id DESC LIMIT 1")
        ).one()  # fmt: skip
    engine.dispose()
    assert (row.actor, row.entity, row.entity_id) == ("admin", "database", "downgrade")
    assert json.loads(row.before) == {"revision": head}
    assert json.loads(row.after)["revision"] == _below(head)


def _running_session(tmp_path: Path) -> tuple[int, Path]:
    """A course session recorded ``running`` with its output directory, as ``session run``
    leaves it while the table moves (written directly: the run itself has its own tests)."""
    from spinecare.store import open_store
    from spinecare.store.audit import set_actor
    from spinecare.store.models import Course, TreatmentSession

    out = tmp_path / "run"
    out.mkdir()
    store = open_store(url=_url())
    try:
        with store.unit_of_work() as db:
            set_actor(db, "doc")
            session = db.query(TreatmentSession).order_by(TreatmentSession.id).first()
            assert session is not None and isinstance(session.course, Course)
            session.status = "running"
            session.telemetry_dir = str(out)
            return session.id, out
    finally:
        store.dispose()


def test_no_restore_or_downgrade_while_a_session_runs(cli_doc: Run, tmp_path: Path) -> None:
    """A session whose process holds its lock is running: a restore or downgrade under it lost
    the treatment's result ("session: is planned, not running"). One that process is gone is
    no obstacle."""
    import fcntl

    from tests.cli.conftest import add_patient, screening_clear

    from spinecare.services.sessions import LOCK_FILE

    pid = add_patient(cli_doc)
    screening_clear(cli_doc, pid)
    start = date.today().toordinal() + 10
    code, _, err = cli_doc(
        "course", "plan", "--patient", pid, "--region", "lumbar", "--segment", "L4/5",
        "--sessions", "15", "--per-week", "3", "--start", date.fromordinal(start).isoformat(),
    )  # fmt: skip
    assert code == 0, err
    file = tmp_path / "clinic.backup"
    code, _, err = cli_doc("db", "backup", str(file), "--as", "admin")
    assert code == 0, err
    session_id, out = _running_session(tmp_path)
    before = dump(_url())
    fd = os.open(out / LOCK_FILE, os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the running process's lock
    try:
        for args in (("restore", str(file)), ("downgrade",)):
            code, _, err = cli_doc("db", *args, "--yes", "--as", "admin")
            assert code == 2 and err.count("\n") == 1, err
            assert f"session {session_id} " in err and "running" in err
        assert dump(_url()) == before and _backups() == []
    finally:
        os.close(fd)  # the process is gone
    code, _, err = cli_doc("db", "restore", str(file), "--yes", "--as", "admin")
    assert code == 0, err


def test_a_failure_after_the_replacement_says_so_and_names_the_safety_backup(
    cli_doc: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the database was replaced, no message may say "nothing was changed": it says the
    database was replaced and where the database before it is."""
    import spinecare.store.backup as backup
    from spinecare.store.faults import FaultKind, StoreFault

    file = tmp_path / "clinic.backup"
    code, _, err = cli_doc("db", "backup", str(file), "--as", "admin")
    assert code == 0, err
    real = backup._check_sqlite

    def failing(conn: Any, name: str) -> None:
        if name == _url().removeprefix("sqlite:///"):
            raise StoreFault(FaultKind.DAMAGED, f"{name}: the copy failed SQLite's integrity check")
        real(conn, name)

    monkeypatch.setattr(backup, "_check_sqlite", failing)
    code, _, err = cli_doc("db", "restore", str(file), "--yes", "--as", "admin")
    last = err.splitlines()[-1]
    assert code == 9 and last.startswith("error: the database WAS replaced"), err
    assert "nothing was changed" not in err.lower() and "integrity check" in last
    safety = _backups()
    assert len(safety) == 1 and f"spinecare db restore {safety[0]} --yes" in err
