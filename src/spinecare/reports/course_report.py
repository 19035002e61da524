"""Course report: force dose per session (peak force, time at force), counter-tension counts,
pain NRS before/after each session and ODI over the course, as charts and a table.

Input is plain data (:class:`CourseReportData`); :func:`load_course_json` reads the JSON file
the CLI takes, :func:`course_from_sessions` builds it from recorded session directories.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from spinecare.errors import InputError
from spinecare.reports import charts
from spinecare.reports.i18n import check_lang
from spinecare.reports.render import ClinicInfo, load_texts, render_pdf
from spinecare.reports.session_report import SessionReportData


@dataclass(frozen=True, slots=True)
class CourseSession:
    number: int
    on: date | None
    peak_force_n: float
    time_at_force_s: float
    guarding_count: int
    pain_before: float | None = None
    pain_after: float | None = None


@dataclass(frozen=True, slots=True)
class OdiScore:
    """Oswestry Disability Index (0-100 %), measured after ``session`` (0 = baseline)."""

    session: int
    score: float


@dataclass(frozen=True, slots=True)
class CourseReportData:
    patient_name: str
    sessions: tuple[CourseSession, ...]
    odi: tuple[OdiScore, ...] = ()
    patient_ref: str | None = None
    region: str | None = None
    target_segment: str | None = None
    planned_sessions: int | None = None
    birth_date: date | None = None

    def __post_init__(self) -> None:
        if not self.sessions:
            raise InputError("sessions", "a course report needs at least one session")
        for s in self.sessions:
            for name in ("pain_before", "pain_after"):
                v = getattr(s, name)
                if v is not None and not 0 <= v <= 10:
                    raise InputError(f"session {s.number}.{name}", "NRS is 0-10", v)
        for o in self.odi:
            if not 0 <= o.score <= 100:
                raise InputError("odi", "ODI is 0-100 %", o.score)


def _num(raw: dict[str, Any], key: str, where: str, default: Any = None) -> Any:
    v = raw.get(key, default)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise InputError(f"{where}.{key}", "must be a number", v)
    return v


def course_from_dict(raw: dict[str, Any]) -> CourseReportData:
    """Parse the course JSON: ``{"patient": {"name", "ref"}, "region", "target_segment",
    "planned_sessions", "sessions": [{"number", "date", "peak_force_n", "time_at_force_s",
    "guarding_count", "pain_before", "pain_after"}], "odi": [{"session", "score"}]}``."""
    if not isinstance(raw, dict):
        raise InputError("course", "expected a JSON object")
    patient = raw.get("patient") or {}
    sessions = []
    for i, s in enumerate(raw.get("sessions") or [], start=1):
        where = f"sessions[{i - 1}]"
        if not isinstance(s, dict):
            raise InputError(where, "expected an object")
        try:
            on = date.fromisoformat(str(s["date"])[:10]) if s.get("date") else None
        except ValueError:
            raise InputError(f"{where}.date", "not an ISO date", s.get("date")) from None
        sessions.append(
            CourseSession(
                number=int(s.get("number", i)),
                on=on,
                peak_force_n=float(_num(s, "peak_force_n", where, 0.0)),
                time_at_force_s=float(_num(s, "time_at_force_s", where, 0.0)),
                guarding_count=int(_num(s, "guarding_count", where, 0)),
                pain_before=_num(s, "pain_before", where),
                pain_after=_num(s, "pain_after", where),
            )
        )
    odi = tuple(OdiScore(int(o["session"]), float(o["score"])) for o in raw.get("odi") or [])
    return CourseReportData(
        patient_name=str(patient.get("name", "")),
        patient_ref=patient.get("ref"),
        region=raw.get("region"),
        target_segment=raw.get("target_segment"),
        planned_sessions=raw.get("planned_sessions"),
        sessions=tuple(sorted(sessions, key=lambda x: x.number)),
        odi=tuple(sorted(odi, key=lambda o: o.session)),
    )


def load_course_json(path: Path | str) -> CourseReportData:
    p = Path(path)
    if not p.is_file():
        raise InputError("data", "no such file", str(p))
    try:
        raw = json.loads(p.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(str(p), f"not valid JSON: {exc.msg}") from None
    return course_from_dict(raw)


def course_from_sessions(
    sessions: Sequence[SessionReportData], odi: Sequence[OdiScore] = ()
) -> CourseReportData:
    """A course from recorded sessions (numbered in order when the summary has no number)."""
    rows = []
    for i, s in enumerate(sessions, start=1):
        rows.append(
            CourseSession(
                number=s.session_number or i,
                on=s.session_date,
                peak_force_n=s.peak_measured_n,
                time_at_force_s=s.time_at_force_s,
                guarding_count=len(s.guarding_events),
                pain_before=s.pain_before,
                pain_after=s.pain_after,
            )
        )
    first = sessions[0] if sessions else None
    return CourseReportData(
        patient_name=first.patient_name if first else "",
        patient_ref=first.patient_ref if first else None,
        region=first.region if first else None,
        target_segment=first.target_segment if first else None,
        sessions=tuple(rows),
        odi=tuple(odi),
    )


def course_summary(data: CourseReportData) -> dict[str, Any]:
    """The course's result in a few figures: pain before the first and after the last session
    with a recorded NRS, ODI at baseline and latest, counter-tension in total, peak force at
    the first and last session."""
    before = [s.pain_before for s in data.sessions if s.pain_before is not None]
    after = [s.pain_after for s in data.sessions if s.pain_after is not None]
    return {
        "pain": (before[0], after[-1]) if before and after else None,
        "odi": (data.odi[0].score, data.odi[-1].score) if len(data.odi) > 1 else None,
        "guarding": sum(s.guarding_count for s in data.sessions),
        "peak": (data.sessions[0].peak_force_n, data.sessions[-1].peak_force_n),
    }


def course_report_context(
    data: CourseReportData,
    clinic: ClinicInfo,
    *,
    lang: str = "de",
    template_dir: Path | str | None = None,
) -> dict[str, Any]:
    lang = check_lang(lang)
    t = load_texts(lang, template_dir)
    nums = [s.number for s in data.sessions]
    dose = charts.dose_chart(
        nums,
        [s.peak_force_n for s in data.sessions],
        [s.time_at_force_s / 60 for s in data.sessions],
        {"peak": t["legend_peak"], "time": t["legend_time"], "x": t["axis_session"]},
    )
    guarding = charts.guarding_chart(
        nums,
        [s.guarding_count for s in data.sessions],
        {"x": t["axis_session"], "y": t["guarding_count"]},
    )
    outcome = charts.outcome_chart(
        nums,
        [s.pain_before for s in data.sessions],
        [s.pain_after for s in data.sessions],
        [o.session for o in data.odi],
        [o.score for o in data.odi],
        {
            "before": t["legend_pain_before"], "after": t["legend_pain_after"],
            "odi": t["odi"], "x": t["axis_session"],
        },
    )  # fmt: skip
    region = t.get(f"region_{data.region}", data.region) if data.region else None
    dates = [s.on for s in data.sessions if s.on is not None]
    return {
        "clinic": clinic,
        "d": data,
        "region_label": region,
        "period": (min(dates), max(dates)) if dates else None,
        "summary": course_summary(data),
        "dose_chart": dose,
        "guarding_chart": guarding,
        "outcome_chart": outcome,
    }


def render_course_report(
    data: CourseReportData,
    out: Path | str,
    *,
    clinic: ClinicInfo | None = None,
    lang: str = "de",
    template_dir: Path | str | None = None,
) -> Path:
    ctx = course_report_context(data, clinic or ClinicInfo(), lang=lang, template_dir=template_dir)
    return render_pdf("course_report.html", ctx, out, lang=lang, template_dir=template_dir)
