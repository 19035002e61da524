"""`spinecare export session|course|patient`: open data out of spinecare (docs/interop.md).

``session`` writes a session's telemetry and summary as CSV and JSON (from the database, or from
a directory ``session run`` wrote); ``course`` one zip archive with every session, the outcomes
and a checksum manifest; ``patient`` the patient's record as a FHIR R4B bundle.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from spinecare.cli.app import app
from spinecare.cli.db import AS_OPTION, JSON_OPTION, run_read
from spinecare.errors import InputError

export_app = typer.Typer(
    help="Open data: a session as CSV/JSON, a course as one archive, a patient as FHIR R4B.",
    no_args_is_help=True,
)
app.add_typer(export_app, name="export")


def _write(files: dict[Path, bytes], *, overwrite: bool) -> None:
    """Write files readable by their owner only, all or none: never over an existing one
    unless asked, and then the old files stay whole until every new one is written.

    Each file is first written beside its place under a temporary name; only when all are
    there are they moved in (a rename, which does not fill a disk), each old file first set
    aside and restored should a move fail. So a directory that held another session's export
    holds either that export or the new one, never telemetry of one and session.json of the
    other. On any fault the files this call made (and a directory it made) go again."""
    from spinecare.store.files import fsync_dir, is_special, named, write_private

    for path in files:
        if path.exists() and not overwrite:
            raise InputError("out", "exists already (give --overwrite to replace it)", str(path))
    made: list[Path] = []
    for path in files:
        missing = [d for d in (path.parent, *path.parent.parents) if not d.exists()]
        made += [d for d in reversed(missing) if d not in made]
    tag = f"{os.getpid()}.export"
    staged: dict[Path, Path] = {}  # final name -> the new file under its temporary name
    kept: dict[Path, Path] = {}  # final name -> the old file set aside
    placed: list[Path] = []
    try:
        for d in made:
            d.mkdir(mode=0o700)
        for path, data in files.items():
            if path.is_dir():  # as write_private refuses it, before anything is moved
                raise OSError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
            if is_special(path):  # /dev/stdout, a FIFO: written through below, never renamed
                continue
            tmp = path.with_name(f".{path.name}.{tag}.new")
            staged[path] = tmp
            try:
                write_private(tmp, data)
            except OSError as exc:  # under the name the user gave, not the temporary one
                raise named(exc, path) from None
        for path, data in files.items():
            if path not in staged:
                write_private(path, data)
                continue
            if path.exists() or path.is_symlink():
                old = path.with_name(f".{path.name}.{tag}.old")
                os.replace(path, old)
                kept[path] = old
            os.replace(staged[path], path)
            placed.append(path)
        for parent in {p.parent for p in placed}:
            fsync_dir(parent)
    except BaseException:
        for path in reversed(placed):
            with contextlib.suppress(OSError):
                path.unlink()
        for path, old in kept.items():
            with contextlib.suppress(OSError):
                os.replace(old, path)
        for tmp in staged.values():
            with contextlib.suppress(OSError):
                tmp.unlink()
        for d in reversed(made):
            with contextlib.suppress(OSError):
                d.rmdir()
        raise
    for old in kept.values():
        with contextlib.suppress(OSError):
            old.unlink()


def _report(as_json: bool, data: dict[str, Any]) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        typer.echo("\n".join(f"{k}: {v}" for k, v in data.items() if not isinstance(v, list)))
        for name in data.get("files", []):
            typer.echo(f"  {name}")


@export_app.command("session")
def session_cmd(
    session_id: Annotated[int | None, typer.Argument(help="course session id")] = None,
    out: Annotated[Path, typer.Option(help="output directory")] = Path("."),
    directory: Annotated[
        Path | None, typer.Option("--dir", help="a session directory instead of a stored session")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv, json or both")] = "both",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace files")] = False,
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """A session's telemetry and summary: telemetry.csv, summary.csv and session.json."""
    from spinecare.interop.tables import FORMATS, session_files

    if fmt not in FORMATS:
        raise InputError("format", f"must be one of {', '.join(FORMATS)}", fmt)
    if (session_id is None) == (directory is None):
        raise InputError("session", "give a session id or --dir DIRECTORY (one of them)")
    if directory is not None:
        from spinecare.services.export import session_export_dir

        export = session_export_dir(directory)
    else:
        from spinecare.services import export as svc

        assert session_id is not None
        export = run_read(as_user, lambda db, actor, _: svc.session_export(db, actor, session_id))
    files = session_files(export, fmt)
    _write({out / name: data for name, data in files.items()}, overwrite=overwrite)
    _report(as_json, {
        "out": str(out), "files": sorted(files),
        "summary": "included" if export.summary is not None else "none (see session.json)",
    })  # fmt: skip


@export_app.command("course")
def course_cmd(
    course_id: Annotated[int, typer.Argument(help="course id")],
    out: Annotated[Path, typer.Option(help="archive to write, e.g. course-7.zip")],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace the file")] = False,
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """A course as one zip archive: course.json, outcomes.csv, sessions/NN/..., MANIFEST.json."""
    from spinecare.interop.tables import archive_check
    from spinecare.services import export as svc

    data = run_read(as_user, lambda db, actor, _: svc.course_archive_bytes(db, actor, course_id))
    manifest = archive_check(data)
    _write({out: data}, overwrite=overwrite)
    _report(as_json, {"out": str(out), "bytes": len(data), "files": sorted(manifest)})


@export_app.command("patient")
def patient_cmd(
    patient_id: Annotated[int, typer.Argument(help="patient id")],
    out: Annotated[Path, typer.Option(help="FHIR bundle to write, e.g. patient-3.json")],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace the file")] = False,
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """The patient's record as a FHIR R4B bundle (Patient, Conditions, Observations,
    Procedures), validated by fhir.resources."""
    from spinecare.services import export as svc

    text = run_read(as_user, lambda db, actor, _: svc.patient_bundle_json(db, actor, patient_id))
    _write({out: text.encode()}, overwrite=overwrite)
    entries = json.loads(text)["entry"]
    counts: dict[str, int] = {}
    for e in entries:
        kind = e["resource"]["resourceType"]
        counts[kind] = counts.get(kind, 0) + 1
    _report(as_json, {"out": str(out), "fhir": "R4B Bundle (collection)", **counts})
