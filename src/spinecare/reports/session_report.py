"""Session report: who, which protocol, the force-time course with counter-tension and faults
marked, the model's force at the target segment, pain before and after.

:class:`SessionReportData` is plain data, so a report can be made from anything (a test, the
database, a cohort run); :func:`load_session_dir` builds it from a recorded session directory
(``telemetry.csv``, ``events.jsonl``, ``summary.json``, see ``runtime/recorder.py``).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from spinecare.errors import InputError
from spinecare.reports import charts, labels
from spinecare.reports.i18n import check_lang
from spinecare.reports.render import ClinicInfo, load_texts, render_pdf
from spinecare.therapy.safety import FaultKind

Floats = npt.NDArray[np.float64]

TELEMETRY = "telemetry.csv"
EVENTS = "events.jsonl"
SUMMARY = "summary.json"

# Event kinds counted as counter-tension (guarding). The runtime logs each episode twice: a
# "guarding_onset" at once and the complete "guarding" record (time to relax, ramp after) once
# the muscles relaxed or the session ended; the report counts the complete records.
GUARDING_KINDS = frozenset({"guarding", "counter_tension"})
# Fault kinds: the safety policy's own vocabulary, plus the generic "fault" event.
FAULT_KINDS = frozenset({"fault", *(k.value for k in FaultKind)})
# "Time at force": time with the measured force at or above 90% of the session's peak target.
# An engineering definition for the dose summary (no published standard for traction dose).
AT_FORCE_FRACTION = 0.9
# The EMG channel's start-up statuses: not a problem to list (the controller's names).
EMG_START_UP = frozenset({"settling", "calibrating", "none"})


@dataclass(frozen=True, slots=True)
class SessionEvent:
    t_s: float
    kind: str
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_guarding(self) -> bool:
        return self.kind in GUARDING_KINDS

    @property
    def is_fault(self) -> bool:
        return self.kind in FAULT_KINDS or self.kind.endswith("_fault")

    def describe(self) -> str:
        """The raw detail (``key=value``); reports use :func:`event_text` instead."""
        return ", ".join(f"{k}={v}" for k, v in self.detail.items() if k not in ("t_s", "kind"))


@dataclass(frozen=True)
class SessionReportData:
    """Everything a session report shows."""

    t_s: Floats
    target_n: Floats
    measured_n: Floats
    segment_force_n: Floats | None = None
    phase: tuple[str, ...] = ()
    events: tuple[SessionEvent, ...] = ()
    patient_name: str = ""
    patient_ref: str | None = None
    session_number: int | None = None
    session_date: date | None = None
    region: str | None = None
    target_segment: str | None = None
    protocol: Mapping[str, Any] = field(default_factory=dict)
    pain_before: float | None = None
    pain_after: float | None = None
    faults: tuple[SessionEvent, ...] = ()
    completed: bool = True
    # From the records (services/reports.py): who ran it, when it started (clinic time).
    operator: str | None = None
    started_at: datetime | None = None
    birth_date: date | None = None

    def __post_init__(self) -> None:
        n = len(self.t_s)
        for name in ("target_n", "measured_n"):
            if len(getattr(self, name)) != n:
                raise InputError(name, f"length differs from t_s ({n})")
        if self.segment_force_n is not None and len(self.segment_force_n) != n:
            raise InputError("segment_force_n", f"length differs from t_s ({n})")

    # --- derived values -------------------------------------------------------------------

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1] - self.t_s[0]) if len(self.t_s) > 1 else 0.0

    @property
    def peak_target_n(self) -> float:
        return float(np.nanmax(self.target_n)) if len(self.t_s) else 0.0

    @property
    def peak_measured_n(self) -> float:
        return float(np.nanmax(self.measured_n)) if len(self.t_s) else 0.0

    @property
    def peak_segment_n(self) -> float | None:
        seg = self.segment_force_n
        if seg is None or not np.isfinite(seg).any():
            return None
        return float(np.nanmax(seg))

    @property
    def time_at_force_s(self) -> float:
        """Seconds with measured force >= 90% of the peak target (sample-and-hold)."""
        if len(self.t_s) < 2 or self.peak_target_n <= 0:
            return 0.0
        dt = np.diff(self.t_s)
        at = self.measured_n[:-1] >= AT_FORCE_FRACTION * self.peak_target_n
        return float(np.sum(dt[at]))

    @property
    def mean_tracking_error_n(self) -> float:
        active = self.target_n > 0
        if not active.any():
            return 0.0
        return float(np.nanmean(np.abs(self.measured_n[active] - self.target_n[active])))

    @property
    def guarding_events(self) -> tuple[SessionEvent, ...]:
        return tuple(e for e in self.events if e.is_guarding)

    @property
    def other_events(self) -> tuple[SessionEvent, ...]:
        """A stop, the session's end, the EMG channel without a valid baseline and its return:
        what else the clinician reads in the event list. The channel's start-up (settling,
        calibrating on the first rest, then ready) says nothing and is left out."""
        out: list[SessionEvent] = []
        not_ready = False  # a problem was listed: list the return to ready too
        for e in self.events:
            if e.kind in ("stop", "session_end"):
                out.append(e)
            elif e.kind == "emg_status":
                status = str(e.detail.get("status") or "")
                if status in EMG_START_UP:
                    continue
                if status == "active":
                    if not_ready:
                        out.append(e)
                    not_ready = False
                elif e.t_s > 0:
                    out.append(e)
                    not_ready = True
        return tuple(out)

    @property
    def fault_events(self) -> tuple[SessionEvent, ...]:
        seen = {(round(e.t_s, 3), e.kind) for e in self.faults}
        from_log = tuple(
            e for e in self.events if e.is_fault and (round(e.t_s, 3), e.kind) not in seen
        )
        return tuple(sorted((*self.faults, *from_log), key=lambda e: e.t_s))


# --- loading a session directory ------------------------------------------------------------


def _float(cell: str) -> float:
    try:
        return float(cell) if cell.strip() != "" else math.nan
    except ValueError:
        return math.nan


def _read_telemetry(path: Path) -> dict[str, list[str]]:
    if not path.is_file():
        raise InputError("session_dir", f"no {TELEMETRY} in it", str(path.parent))
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise InputError(str(path), "empty file") from None
        cols: dict[str, list[str]] = {h.strip(): [] for h in header}
        names = list(cols)
        for row in reader:
            if len(row) != len(names):  # a torn last line after a crash
                continue
            for name, cell in zip(names, row, strict=True):
                cols[name].append(cell)
    return cols


def _events(path: Path) -> list[SessionEvent]:
    out: list[SessionEvent] = []
    if not path.is_file():
        return out
    for line in path.read_text("utf-8").splitlines():
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line after a crash
        if isinstance(raw, dict) and "kind" in raw and "t_s" in raw:
            detail = {k: v for k, v in raw.items() if k not in ("kind", "t_s")}
            out.append(SessionEvent(float(raw["t_s"]), str(raw["kind"]), detail))
    return out


def _date(value: Any) -> date | None:
    if not value:
        return None
    text = str(value)
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            return None


def _opt_float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def load_session_dir(session_dir: Path | str) -> SessionReportData:
    """Read a recorded session directory. ``telemetry.csv`` needs ``t_s``, ``target_n`` and
    ``measured_n`` (or the recorder's ``force_n``); ``segment_force_n`` and ``phase`` are used
    when present. A missing ``summary.json`` marks the session as not ended cleanly."""
    d = Path(session_dir)
    if not d.is_dir():
        raise InputError("session_dir", "not a directory", str(d))
    cols = _read_telemetry(d / TELEMETRY)
    measured_key = "measured_n" if "measured_n" in cols else "force_n"
    for need in ("t_s", "target_n", measured_key):
        if need not in cols:
            raise InputError(TELEMETRY, f"column {need!r} missing", ", ".join(cols))

    def arr(name: str) -> Floats:
        return np.array([_float(c) for c in cols[name]], dtype=np.float64)

    summary: dict[str, Any] | None = None
    if (d / SUMMARY).is_file():
        try:
            loaded = json.loads((d / SUMMARY).read_text("utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(SUMMARY, f"not valid JSON: {exc.msg}") from None
        summary = loaded if isinstance(loaded, dict) else {}
    s = summary or {}
    patient = s.get("patient") if isinstance(s.get("patient"), dict) else {}
    assert isinstance(patient, dict)
    faults = tuple(
        SessionEvent(float(f.get("t_s", 0.0)), str(f.get("kind", "fault")),
                     {k: v for k, v in f.items() if k not in ("t_s", "kind")})
        for f in s.get("faults", []) or []
        if isinstance(f, dict)
    )  # fmt: skip
    protocol = s.get("protocol") if isinstance(s.get("protocol"), dict) else {}
    assert isinstance(protocol, dict)
    number = s.get("session_number")
    return SessionReportData(
        t_s=arr("t_s"),
        target_n=arr("target_n"),
        measured_n=arr(measured_key),
        segment_force_n=arr("segment_force_n") if "segment_force_n" in cols else None,
        phase=tuple(cols.get("phase", [])),
        events=tuple(_events(d / EVENTS)),
        patient_name=str(patient.get("name") or s.get("patient_name") or ""),
        patient_ref=patient.get("ref") or patient.get("id") or s.get("patient_id"),
        session_number=int(number)
        if isinstance(number, int | str) and str(number).isdecimal()
        else None,
        session_date=_date(s.get("date") or s.get("started_at")),
        region=s.get("region"),
        target_segment=s.get("target_segment"),
        protocol=protocol,
        pain_before=_opt_float(s.get("pain_before")),
        pain_after=_opt_float(s.get("pain_after")),
        faults=faults,
        completed=summary is not None and not s.get("aborted", False),
    )


# --- rendering ------------------------------------------------------------------------------

# The protocol in words: (protocol key, text key, unit, decimals) in the order a clinician reads
# it; values of the choice fields are translated by the text key ``<key>_<value>``. Units are
# those of quantities.py.
PROTOCOL_FIELDS: tuple[tuple[str, str, str, int], ...] = (
    ("mode", "p_mode", "", 0),
    ("peak_force_n", "p_peak", "N", 0),
    ("base_force_n", "p_base", "N", 0),
    ("hold_s", "p_hold", "s", 0),
    ("rest_s", "p_rest", "s", 0),
    ("ramp_up_n_s", "p_ramp_up", "N/s", 1),
    ("ramp_down_n_s", "p_ramp_down", "N/s", 1),
    ("ramp_shape", "p_ramp_shape", "", 0),
    ("traction_minutes", "p_minutes", "min", 0),
    ("pull_angle_deg", "p_angle", "°", 1),
    ("table", "p_table", "", 0),
    ("body_weight_kg", "p_weight", "kg", 1),
    ("progressive_steps", "p_progressive", "", 0),
    ("regressive_steps", "p_regressive", "", 0),
    ("oscillation_amplitude_n", "p_oscillation", "N", 1),
    ("oscillation_hz", "p_oscillation_hz", "Hz", 2),
)
CHOICE_FIELDS = frozenset({"mode", "ramp_shape", "table"})


def _fmt(value: Any, lang: str, places: int) -> str:
    from spinecare.reports.i18n import format_decimal

    try:
        return format_decimal(float(value), lang, places)
    except (TypeError, ValueError):
        return str(value)


def protocol_rows(
    protocol: Mapping[str, Any], t: Mapping[str, Any], lang: str
) -> list[tuple[str, str]]:
    """(label, value with unit) for each protocol field that says something: the steps and the
    oscillation only when used, the log factor only for a logarithmic ramp."""
    rows: list[tuple[str, str]] = []
    for key, label, unit, places in PROTOCOL_FIELDS:
        if key not in protocol or protocol[key] is None:
            continue
        v = protocol[key]
        if key in ("progressive_steps", "regressive_steps") and not v:
            continue
        if key.startswith("oscillation") and not protocol.get("oscillation_amplitude_n"):
            continue
        if key in CHOICE_FIELDS:
            text = str(t.get(f"{key}_{v}", v))
            if key == "ramp_shape" and v == "logarithmic" and protocol.get("log_ramp_factor"):
                text += f" ({t['p_log_factor']} {_fmt(protocol['log_ramp_factor'], lang, 1)})"
        else:
            # A space before the unit, none before the degree sign of an angle (DIN 5008 [din5008]).
            text = _fmt(v, lang, places) + (unit if unit in ("", "°") else f" {unit}")
        rows.append((str(t.get(label, key)), text))
    return rows


# More events than this are listed in three columns instead of a table (one page up to ~30).
MANY_EVENTS = 10


def clock(t_s: float) -> str:
    """Elapsed session time as ``m:ss``."""
    m, s = divmod(max(0, round(t_s)), 60)
    return f"{m}:{s:02d}"


def event_text(e: SessionEvent, t: Mapping[str, Any], lang: str) -> tuple[str, str]:
    """(kind, what happened) in the report's language, numbers with units."""
    d = e.detail
    if e.is_guarding:
        phase = str(t.get(f"phase_{d.get('phase')}", d.get("phase") or ""))
        parts = [phase] if phase else []
        if d.get("force_at_onset_n") is not None:
            parts.append(t["ev_force"].format(
                force=_fmt(d["force_at_onset_n"], lang, 0),
                target=_fmt(d.get("target_at_onset_n", 0), lang, 0),
            ))  # fmt: skip
        if d.get("size_n") is not None:  # an older recorder's episode: its size only
            parts.append(t["ev_size"].format(n=_fmt(d["size_n"], lang, 0)))
        relax = d.get("time_to_relax_s", d.get("relax_s"))
        if relax is not None:
            parts.append(t["ev_relaxed"].format(s=_fmt(relax, lang, 1)))
        elif "time_to_relax_s" in d:  # recorded, and still tense when the session ended
            parts.append(t["ev_not_relaxed"])
        if d.get("ramp_after_n_s") is not None and d.get("peak_after_n") is not None:
            parts.append(t["ev_ramp_after"].format(
                rate=_fmt(d["ramp_after_n_s"], lang, 1), peak=_fmt(d["peak_after_n"], lang, 0)
            ))  # fmt: skip
        source = t.get(f"source_{d.get('source')}")
        if source:
            parts.append(str(source))
        return str(t["legend_guarding"]), ", ".join(parts)
    if e.is_fault:
        kind = str(d.get("fault") or e.kind)
        what = str(t.get(f"fault_{kind}", kind.replace("_", " ")))
        detail = labels.fault_detail(str(d["detail"]), lang) if d.get("detail") else ""
        return str(t["legend_fault"]), what + (f" ({detail})" if detail else "")
    if e.kind == "stop":
        return str(t["ev_stop"]), labels.stop_reason(str(d.get("reason") or ""), lang)
    if e.kind == "session_end":
        reason = str(d.get("reason") or "")
        return str(t["ev_end"]), str(t.get(f"end_{reason}", reason))
    if e.kind == "emg_status":
        known = t.get(f"emg_{d.get('status')}")  # the status in the report's language
        return "EMG", str(known or d.get("reason") or d.get("status"))
    return e.kind, e.describe()


def session_report_context(
    data: SessionReportData,
    clinic: ClinicInfo,
    *,
    lang: str = "de",
    template_dir: Path | str | None = None,
) -> dict[str, Any]:
    lang = check_lang(lang)
    t = load_texts(lang, template_dir)
    listed = sorted((*data.guarding_events, *data.fault_events, *data.other_events),
                    key=lambda e: e.t_s)  # fmt: skip
    chart = charts.force_time_chart(
        data.t_s,
        data.target_n,
        data.measured_n,
        data.segment_force_n,
        [e.t_s for e in data.guarding_events],
        [e.t_s for e in data.fault_events],
        {
            "target": t["legend_target"], "measured": t["legend_measured"],
            "segment": t["legend_segment"], "guarding": t["legend_guarding"],
            "fault": t["legend_fault"], "x": t["axis_time_min"], "y": t["axis_force"],
        },
        # A long list of events (three columns, MANY_EVENTS) gets the room of a flatter chart.
        height=1.45 if len(listed) > MANY_EVENTS else 1.95,
    )  # fmt: skip
    region = t.get(f"region_{data.region}", data.region) if data.region else None
    return {
        "clinic": clinic,
        "d": data,
        "region_label": region,
        "chart": chart,
        "faults": data.fault_events,
        "protocol_rows": protocol_rows(data.protocol, t, lang),
        "events": [(clock(e.t_s), *event_text(e, t, lang)) for e in listed],
        "many_events": len(listed) > MANY_EVENTS,
    }


def render_session_report(
    data: SessionReportData,
    out: Path | str,
    *,
    clinic: ClinicInfo | None = None,
    lang: str = "de",
    template_dir: Path | str | None = None,
) -> Path:
    ctx = session_report_context(data, clinic or ClinicInfo(), lang=lang, template_dir=template_dir)
    return render_pdf("session_report.html", ctx, out, lang=lang, template_dir=template_dir)
