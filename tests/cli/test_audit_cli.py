"""`spinecare audit verify`: intact, broken (the first broken entry named, status 11), and a
rewrite of the whole chain, hashes recomputed, caught by the anchor of the last check."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from spinecare.store.audit import GENESIS, entry_hash

Run = Callable[..., tuple[int, str, str]]
ADD = (
    "patients", "add", "--name", "Erika Mustermann", "--birth-date", "1962-03-14", "--sex", "F",
    "--weight", "70", "--height", "165", "--insurance", "private",
)  # fmt: skip


def _rewrite_and_rehash(url: str, entry_id: int, actor: str) -> None:
    """What someone with full database rights does: change an entry and recompute every hash
    after it, and the head."""
    from spinecare.store import open_store
    from spinecare.store.audit import audit_entries

    store = open_store(url=url)
    try:
        with store.engine.begin() as conn:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
        with store.session() as s:
            entries = list(audit_entries(s))
        prev = GENESIS
        with store.engine.begin() as conn:
            for e in entries:
                who = actor if e.id == entry_id else e.actor
                digest = entry_hash(
                    prev, e.id, e.at, who, e.entity, e.entity_id, e.action, e.before, e.after
                )
                conn.execute(
                    text("UPDATE audit_log SET actor = :a, prev_hash = :p, hash = :h "
                         "WHERE id = :i"),
                    {"a": who, "p": prev, "h": digest, "i": e.id},
                )  # fmt: skip
                prev = digest
            conn.execute(text("UPDATE audit_chain SET last_hash = :h WHERE id = 1"), {"h": prev})
    finally:
        store.dispose()


def test_verify_intact_broken_and_rehashed(cli_doc: Run) -> None:
    url = os.environ["SPINECARE_DATABASE_URL"]
    code, _, err = cli_doc(*ADD)
    assert code == 0, err
    code, out, err = cli_doc("audit", "verify", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["intact"] and report["entries"] >= 4 and report["broken_at"] is None
    # the full rewrite passes the chain's own check, but not the anchor of the last check
    _rewrite_and_rehash(url, 2, "someone")
    code, out, err = cli_doc("audit", "verify")
    assert code == 11 and "rewritten" in err and f"#{report['last_id']}" in err, err
    assert err.count("\n") == 1
    # ... and names the entry that was rewritten, not only the anchor
    assert err.startswith("error: audit log broken at entry #2:"), err
    code, out, err = cli_doc("audit", "verify", "--json")
    assert code == 11 and json.loads(out)["broken_at"] == 2
    # a plain change: the entry itself is named
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'x' WHERE id = 3"))
    engine.dispose()
    code, out, err = cli_doc("audit", "verify", "--json")
    assert code == 11 and json.loads(out)["broken_at"] == 3
    # reading the log needs a login
    for who in ("doc", "admin"):
        code, _, err = cli_doc("logout", "--all", "--as", who)
        assert code == 0, err
    code, _, err = cli_doc("audit", "verify")
    assert code == 7


def test_verify_on_a_read_only_data_directory_still_says_the_result(
    cli_doc: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check's note for the next one cannot be written (a read-only data directory, a
    forensic copy): the result is still given, with a warning, instead of a file error."""
    import errno

    import spinecare.store.files as files

    def read_only(path: object, data: bytes) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    code, _, err = cli_doc(*ADD)
    assert code == 0, err
    monkeypatch.setattr(files, "write_private", read_only)
    code, out, err = cli_doc("audit", "verify")
    assert code == 0 and "intact" in out, err
    assert "could not be noted" in err and "read-only" in err and err.count("\n") == 1


def _drop_update_trigger(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
    engine.dispose()


@pytest.mark.parametrize(
    ("column", "value"),
    [("after", "{not json"), ("at", "garbage"), ("after", "[" * 5000)],
    ids=["not-json", "not-a-date", "nested"],
)
def test_an_entry_that_cannot_be_read_is_a_broken_chain(
    cli_doc: Run, column: str, value: str
) -> None:
    """Undecodable entries exited 70 (JSONDecodeError, ValueError, RecursionError): they are a
    broken chain, status 11, the entry named."""
    url = os.environ["SPINECARE_DATABASE_URL"]
    code, _, err = cli_doc(*ADD)
    assert code == 0, err
    _drop_update_trigger(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE audit_log SET {column} = :v WHERE id = 3"), {"v": value})
    engine.dispose()
    code, out, err = cli_doc("audit", "verify")
    assert code == 11 and err.count("\n") == 1, err
    assert err.startswith("error: audit log broken at entry #3: it cannot be read"), err
    code, out, err = cli_doc("audit", "verify", "--json")
    assert code == 11 and json.loads(out)["broken_at"] == 3


@pytest.mark.parametrize(
    "content",
    ["{garbage", "[1, 2]", "wrong-fields"],
)
def test_an_unreadable_anchors_file_is_said_and_kept(cli_doc: Run, content: str) -> None:
    """A corrupt anchors file was ignored and overwritten, and the log called intact as if it
    had been compared with the last check. Now: intact (the chain is), status 0, but a warning
    on stderr and in --json, no "unchanged since", and the file left for the admin."""
    from spinecare.settings import get_settings

    code, _, err = cli_doc(*ADD)
    assert code == 0, err
    code, _, err = cli_doc("audit", "verify")  # notes an anchor
    assert code == 0, err
    anchors = Path(os.environ["SPINECARE_DATA_DIR"]) / "audit-anchors.json"
    if content == "wrong-fields":
        key = get_settings().database_url_masked
        content = json.dumps({key: {"id": "seven", "hash": 7}})
    anchors.write_text(content)
    code, out, err = cli_doc("audit", "verify")
    assert code == 0 and "intact" in out and "unchanged since" not in out, err
    assert "not compared with earlier checks" in out
    assert err.startswith("warning: ") and "audit-anchors.json" in err and err.count("\n") == 1
    code, out, err = cli_doc("audit", "verify", "--json")
    report = json.loads(out)
    assert code == 0 and report["anchor"] == "unreadable" and len(report["warnings"]) == 1
    assert anchors.read_text() == content  # kept as evidence, not overwritten
