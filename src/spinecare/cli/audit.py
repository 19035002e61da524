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


class AnchorsUnreadable(Exception):
    """``audit-anchors.json`` exists but cannot be read as anchors (not JSON, not an object, an
    entry of the wrong shape, or not readable): what was verified before is unknown."""


def _anchors(settings: Settings) -> dict[str, Any]:
    """The anchors file's entries by database ({} when there is none yet).

    Raises AnchorsUnreadable for a file that exists but is not what this module writes: it
    used to count as "no anchors", so ``audit verify`` said "intact" without comparing with
    the last check, and the next note overwrote the file (and any evidence in it)."""
    path = Path(settings.data_dir) / ANCHORS
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeError) as exc:
        raise AnchorsUnreadable(f"{path} cannot be read ({type(exc).__name__})") from None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise AnchorsUnreadable(f"{path} is not valid JSON") from None
    if not isinstance(data, dict):
        raise AnchorsUnreadable(f"{path} is not a JSON object of anchors")
    return data


def _anchor_of(settings: Settings, anchors: dict[str, Any]) -> dict[str, Any] | None:
    """This database's anchor (None: never noted); AnchorsUnreadable when it has the wrong
    fields (an entry this module did not write cannot vouch for anything)."""
    anchor = anchors.get(settings.database_url_masked)
    if anchor is None:
        return None
    if not (
        isinstance(anchor, dict)
        and isinstance(anchor.get("id"), int)
        and not isinstance(anchor.get("id"), bool)
        and anchor["id"] > 0
        and isinstance(anchor.get("hash"), str)
    ):
        path = Path(settings.data_dir) / ANCHORS
        raise AnchorsUnreadable(f"{path}: the entry of this database has the wrong fields")
    return anchor


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
    data = _anchors(settings)  # an unreadable file is left as it is (AnchorsUnreadable)
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
    """Check every entry's hash and link; exit 11 naming the first broken entry.

    An anchors file that cannot be read is a warning, not a broken chain: the chain itself was
    checked, and deleting the file (which a rewrite could do as well) counts as a first check
    too. But the result then says it was not compared with the last check, and the file is
    left as it is for the admin to look at (it is not overwritten with a new anchor)."""
    from spinecare.store.audit import entry_hash_of, verify_chain

    warnings: list[str] = []
    with clinic_store() as (store, settings), store.session() as db:
        current_actor(db, settings, as_user)  # reading the log needs a login
        report = verify_chain(db)
        unreadable = ""
        anchor: dict[str, Any] | None = None
        try:
            anchor = _anchor_of(settings, _anchors(settings))
        except AnchorsUnreadable as exc:
            unreadable = str(exc)
            warnings.append(
                f"{unreadable}: this check was not compared with the earlier ones, nor noted; "
                "move the file aside (keep it) to start new anchors"
            )
        broken_at, reason = report.broken_at, report.reason
        anchored = ""
        state = "none"  # this database's anchor: none yet, unchanged, or changed
        rows = _hashes(db) if report.intact else []
        if report.intact and anchor is not None:
            aid, ahash = int(anchor["id"]), str(anchor["hash"])
            when = anchor.get("verified_at", "?")
            stored = entry_hash_of(db, aid)
            first = _first_changed(rows, anchor.get("prefixes"), aid)
            state = "changed"
            if stored is None:
                broken_at = first or aid
                reason = (
                    f"entry #{aid}, verified on {when}, is gone: the log was cut back and rebuilt"
                )
            elif stored != ahash:
                broken_at = first or aid
                changed = f"entry #{first}" if first else "an entry up to it"
                reason = (
                    f"{changed} was rewritten after the check of {when} and every hash after "
                    f"it recomputed (entry #{aid} no longer has the hash it had then)"
                )
            else:
                state, anchored = "unchanged", f"; unchanged since the check of {when}"
        elif report.intact and unreadable:
            anchored = "; not compared with earlier checks (the anchors file cannot be read)"
    intact = broken_at is None and not reason
    if intact and report.entries and not unreadable:
        try:
            _note_anchor(settings, report.last_id, report.last_hash, _prefixes(rows))
        except OSError as exc:  # a read-only data directory: the check itself still stands
            from spinecare.cli.errors import describe_os_error

            unnoted = describe_os_error(exc)[1].split(". Nothing")[0]
            warnings.append(f"this check could not be noted for the next one ({unnoted})")
    data = {
        "database_url": settings.database_url_masked,
        "intact": intact,
        "entries": report.entries,
        "last_id": report.last_id,
        "last_hash": report.last_hash,
        "broken_at": broken_at,
        "reason": reason or None,
        "anchor": "unreadable" if unreadable else state,
        "warnings": warnings,
    }
    if as_json:
        print_json(data)
    elif intact:
        echo(
            f"audit log intact: {report.entries} entries, newest #{report.last_id} "
            f"(hash {report.last_hash[:16]}){anchored}"
        )
    from spinecare.cli.output import note

    for warning in warnings:
        note(f"warning: {warning}")
    if not intact:
        where = f"entry #{broken_at}" if broken_at is not None else "the chain's head"
        error(f"audit log broken at {where}: {reason}")
        raise typer.Exit(EXIT_AUDIT_BROKEN)
