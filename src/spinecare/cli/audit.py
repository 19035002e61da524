"""`spinecare audit verify`: check the audit log's hash chain and name the first broken entry.

Each entry's hash covers its content and the entry before it (``store/audit.py``), so an entry
changed, removed, inserted or back-dated breaks the chain where it happened. Someone with full
database rights could recompute every hash after a rewrite; against that, each successful check
notes the chain's newest entry and hash in ``<data dir>/audit-anchors.json`` (0600, outside the
database) and the next check confirms that entry still has that hash: the log may have grown
since, but what was verified has not changed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from spinecare.cli.app import app
from spinecare.cli.db import AS_OPTION, JSON_OPTION, clinic_store, current_actor
from spinecare.cli.errors import EXIT_AUDIT_BROKEN
from spinecare.cli.output import echo, error, print_json

if TYPE_CHECKING:
    from spinecare.settings import Settings

audit_app = typer.Typer(help="The audit log: verify its hash chain.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")

ANCHORS = "audit-anchors.json"


def _anchors(settings: Settings) -> dict[str, Any]:
    path = Path(settings.data_dir) / ANCHORS
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


# Characters of each entry's hash kept in the anchor: enough to find the first entry a rewrite
# changed (the last entry's full hash is what proves there was one), 8 bytes an entry.
PREFIX = 8


def _hashes(db: Any) -> list[tuple[int, str]]:
    from sqlalchemy import select

    from spinecare.store.models import AuditEntry

    rows = db.execute(select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id))
    return [(int(i), str(h)) for i, h in rows]


def _prefixes(rows: list[tuple[int, str]]) -> str:
    """Every entry's hash prefix in id order (ids run 1, 2, ... in an intact chain)."""
    if [i for i, _ in rows] != list(range(1, len(rows) + 1)):
        return ""
    return "".join(h[:PREFIX] for _, h in rows)


def _first_changed(rows: list[tuple[int, str]], noted: object, upto: int) -> int | None:
    """The first entry up to ``upto`` whose hash is not the one noted at the last check, or
    that is gone; None when the anchor holds no prefixes (written by an older version)."""
    if not isinstance(noted, str) or len(noted) < upto * PREFIX:
        return None
    now = dict(rows)
    for i in range(1, upto + 1):
        if now.get(i, "")[:PREFIX] != noted[(i - 1) * PREFIX : i * PREFIX]:
            return i
    return None


def _note_anchor(settings: Settings, last_id: int, last_hash: str, prefixes: str) -> None:
    from spinecare.store.files import private_dir, write_private

    private_dir(Path(settings.data_dir))
    data = _anchors(settings)
    data[settings.database_url_masked] = {
        "id": last_id,
        "hash": last_hash,
        "verified_at": datetime.now(UTC).isoformat(),
        "prefixes": prefixes,
    }
    text = json.dumps(data, indent=2) + "\n"
    write_private(Path(settings.data_dir) / ANCHORS, text.encode("utf-8"))


def anchor_restored(settings: Settings, db: Any, last_id: int, last_hash: str) -> None:
    """After ``db restore``: the restored log, verified intact, is what later checks compare
    with (the anchor of the replaced log would call a restored older log cut back)."""
    _note_anchor(settings, last_id, last_hash, _prefixes(_hashes(db)))


@audit_app.command("verify")
def verify(as_user: str | None = AS_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Check every entry's hash and link; exit 11 naming the first broken entry."""
    from spinecare.store.audit import entry_hash_of, verify_chain

    with clinic_store() as (store, settings), store.session() as db:
        current_actor(db, settings, as_user)  # reading the log needs a login
        report = verify_chain(db)
        anchor = _anchors(settings).get(settings.database_url_masked)
        broken_at, reason = report.broken_at, report.reason
        anchored = ""
        rows = _hashes(db) if report.intact else []
        if report.intact and isinstance(anchor, dict):
            aid, ahash = anchor.get("id"), anchor.get("hash")
            when = anchor.get("verified_at", "?")
            if isinstance(aid, int) and isinstance(ahash, str) and aid > 0:
                stored = entry_hash_of(db, aid)
                first = _first_changed(rows, anchor.get("prefixes"), aid)
                if stored is None:
                    broken_at = first or aid
                    reason = (
                        f"entry #{aid}, verified on {when}, is gone: the log was cut back and "
                        "rebuilt"
                    )
                elif stored != ahash:
                    broken_at = first or aid
                    changed = f"entry #{first}" if first else "an entry up to it"
                    reason = (
                        f"{changed} was rewritten after the check of {when} and every hash after "
                        f"it recomputed (entry #{aid} no longer has the hash it had then)"
                    )
                else:
                    anchored = f"; unchanged since the check of {when}"
    intact = broken_at is None and not reason
    unnoted = ""
    if intact and report.entries:
        try:
            _note_anchor(settings, report.last_id, report.last_hash, _prefixes(rows))
        except OSError as exc:  # a read-only data directory: the check itself still stands
            from spinecare.cli.errors import describe_os_error

            unnoted = describe_os_error(exc)[1].split(". Nothing")[0]
    data = {
        "database_url": settings.database_url_masked,
        "intact": intact,
        "entries": report.entries,
        "last_id": report.last_id,
        "last_hash": report.last_hash,
        "broken_at": broken_at,
        "reason": reason or None,
    }
    if as_json:
        print_json(data)
    elif intact:
        echo(
            f"audit log intact: {report.entries} entries, newest #{report.last_id} "
            f"(hash {report.last_hash[:16]}){anchored}"
        )
    if unnoted:
        from spinecare.cli.output import note

        note(f"warning: this check could not be noted for the next one ({unnoted})")
    if not intact:
        where = f"entry #{broken_at}" if broken_at is not None else "the chain's head"
        error(f"audit log broken at {where}: {reason}")
        raise typer.Exit(EXIT_AUDIT_BROKEN)
