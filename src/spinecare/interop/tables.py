"""A session's telemetry and summary as CSV and JSON, and a course as one zip archive.

Pure converters: the data comes in (``services/export.py`` reads the store and the session
directories), bytes go out. Column names carry their unit as a suffix (``_n`` newton, ``_mm``
millimetre, ``_uv`` microvolt, ``_s`` second); the JSON says so explicitly. The summary is the
runtime's typed, versioned ``SessionSummary``; its CSV form is one ``field,value`` row per
value (nested fields dotted, lists as JSON). The archive holds a manifest with the SHA-256 of
every file, so a recipient can check that nothing was lost or altered on the way.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from spinecare import __version__
from spinecare.runtime.summary import SessionSummary

FORMAT_VERSION = 1
UNIT_SUFFIXES = (("_uv", "uV"), ("_mm", "mm"), ("_n", "N"), ("_s", "s"))
# Fixed timestamp for archive members: the same data gives the same archive bytes.
_ZIP_TIME = (2000, 1, 1, 0, 0, 0)


def unit_of(column: str) -> str | None:
    for suffix, unit in UNIT_SUFFIXES:
        if column.endswith(suffix):
            return unit
    return None


@dataclass(frozen=True, slots=True)
class SessionExport:
    """One session's open data: who and what it was, its summary, telemetry and events."""

    meta: Mapping[str, Any]
    summary: SessionSummary | None
    telemetry: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    events: Sequence[Mapping[str, Any]] = ()
    # the session's raw sEMG (its emg.txt) when it kept one; a single session's export only,
    # a course archive would grow by about 12 MB a session
    raw_emg: bytes | None = None


def _plain(v: Any) -> Any:
    """numpy scalars to Python ones (JSON and CSV want plain values)."""
    item = getattr(v, "item", None)
    return item() if callable(item) else v


def telemetry_csv(telemetry: Mapping[str, Sequence[Any]]) -> str:
    cols = list(telemetry)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    n = len(telemetry[cols[0]]) if cols else 0
    columns = [telemetry[c] for c in cols]
    for i in range(n):
        w.writerow([_plain(col[i]) for col in columns])
    return buf.getvalue()


def telemetry_json(telemetry: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    return {
        "columns": list(telemetry),
        "units": {c: unit_of(c) for c in telemetry},
        "data": {c: [_plain(x) for x in v] for c, v in telemetry.items()},
    }


def _flatten(prefix: str, value: Any, out: list[tuple[str, Any]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, list):
        out.append((prefix, json.dumps(value, separators=(",", ":"))))
    else:
        out.append((prefix, "" if value is None else value))


def summary_csv(summary: SessionSummary) -> str:
    rows: list[tuple[str, Any]] = []
    _flatten("", summary.model_dump(mode="json"), rows)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("field", "value"))
    w.writerows(rows)
    return buf.getvalue()


def session_json(export: SessionExport) -> str:
    data = {
        "format": "spinecare-session",
        "format_version": FORMAT_VERSION,
        "spinecare_version": __version__,
        **dict(export.meta),
        "summary": None if export.summary is None else export.summary.model_dump(mode="json"),
        "telemetry": telemetry_json(export.telemetry) if export.telemetry else None,
        "events": [dict(e) for e in export.events],
    }
    return json.dumps(data, indent=1, default=_plain) + "\n"


FORMATS = ("csv", "json", "both")


def session_files(export: SessionExport, fmt: str = "both") -> dict[str, bytes]:
    """The files of one exported session: telemetry.csv and summary.csv, and/or session.json;
    emg.txt when the export carries the raw sEMG."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    files: dict[str, bytes] = {}
    if fmt in ("csv", "both"):
        if export.telemetry:
            files["telemetry.csv"] = telemetry_csv(export.telemetry).encode()
        if export.summary is not None:
            files["summary.csv"] = summary_csv(export.summary).encode()
    if fmt in ("json", "both"):
        files["session.json"] = session_json(export).encode()
    if export.raw_emg is not None:  # as the session wrote it: `spinecare emg detect` reads it
        files["emg.txt"] = export.raw_emg
    return files


README = """spinecare course archive (format {version})

course.json       the course, its sessions (status, planned protocol, typed summary)
outcomes.csv      pain NRS before/after each session and Oswestry Disability Index scores
sessions/NN/      each session that ran: telemetry.csv (one row per 20 ms tick), summary.csv,
                  session.json (summary, telemetry, events); NN is the session number
MANIFEST.json     SHA-256 and size of every file above

Units are in the column names (_n newton, _mm millimetre, _uv microvolt, _s second). Forces at
the target segment are model estimates, not measurements. Research software, not a medical
device.
"""


def course_archive(
    course: Mapping[str, Any],
    sessions: Sequence[tuple[int, SessionExport]],
    outcomes: Sequence[Mapping[str, Any]],
) -> bytes:
    """One zip: the course record, its outcomes, every session's files, a manifest."""
    course_doc = {
        "format": "spinecare-course",
        "format_version": FORMAT_VERSION,
        "spinecare_version": __version__,
        **dict(course),
    }
    files: dict[str, bytes] = {
        "README.txt": README.format(version=FORMAT_VERSION).encode(),
        "course.json": (json.dumps(course_doc, indent=1, default=_plain) + "\n").encode(),
        "outcomes.csv": _rows_csv(
            outcomes, ("session_number", "kind", "value", "recorded_at")
        ).encode(),
    }
    for number, export in sessions:
        for name, data in session_files(export, "both").items():
            files[f"sessions/{number:02d}/{name}"] = data
    manifest = {
        name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        for name, data in sorted(files.items())
    }
    files["MANIFEST.json"] = (json.dumps(manifest, indent=1) + "\n").encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            zf.writestr(info, files[name])
    return buf.getvalue()


def _rows_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if r.get(c) is None else _plain(r.get(c)) for c in columns])
    return buf.getvalue()


def archive_check(data: bytes) -> dict[str, Any]:
    """Open an archive and check every file against the manifest (for recipients and tests)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        try:
            manifest = json.loads(zf.read("MANIFEST.json"))
        except RecursionError:  # a hostile manifest: as every other bad archive, a ValueError
            raise ValueError("MANIFEST.json is nested too deeply") from None
        names = set(zf.namelist()) - {"MANIFEST.json"}
        if names != set(manifest):
            raise ValueError(f"files and manifest differ: {sorted(names ^ set(manifest))}")
        for name, entry in manifest.items():
            if hashlib.sha256(zf.read(name)).hexdigest() != entry["sha256"]:
                raise ValueError(f"{name}: checksum mismatch")
        return {str(k): v for k, v in manifest.items()}
