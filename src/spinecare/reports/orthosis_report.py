"""The orthosis follow-up report: prescription and wearing plan, the trials' outcome measures at
baseline, 3 and 6 months, the change from baseline beside what the trials published (funding
shown, the trial that found no difference beside them), posture-sensor wear and upright time by
week, and the osteoporosis follow-up. Charts as PNG (matplotlib, Agg) and one PDF.

Input is plain data (:class:`OrthosisReportData`), built by ``services/orthosis.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from spinecare.clinical.orthosis import (
    MEASURES,
    EvidenceRow,
    FollowUpMeasures,
    FollowUpVisit,
    MeasureChange,
    WearingPlan,
)
from spinecare.clinical.osteoporosis_followup import OsteoporosisFollowUp
from spinecare.reports import charts
from spinecare.reports import labels as lx
from spinecare.reports.i18n import check_lang
from spinecare.reports.render import ClinicInfo, render_pdf
from spinecare.signals.posture import PostureAnalysis, PostureSignals, PostureWeek

PATIENT = "#1f5f8b"
MAKER = ("#d9822b", "#e8a867", "#f2c99a")  # the maker-funded trials' arms
INDEPENDENT = "#3f8f5a"
COMPARATOR = "#a8c8b2"


@dataclass(frozen=True, slots=True)
class FollowUpRow:
    visit: FollowUpVisit
    due_on: date
    done_on: date | None
    measures: FollowUpMeasures


@dataclass(frozen=True, slots=True)
class TrialNote:
    label: str
    design: str
    n: int | None
    funding: str
    summary: str


@dataclass(frozen=True, slots=True)
class OrthosisReportData:
    patient_name: str
    patient_ref: str
    device: str
    size: str | None
    prescribed_on: date
    prescriber: str
    fitted_on: date | None
    plan: WearingPlan
    followups: Sequence[FollowUpRow]
    changes: Sequence[tuple[FollowUpVisit, Sequence[MeasureChange]]]
    evidence: Sequence[EvidenceRow]
    trials: Sequence[TrialNote]
    evidence_summary: str
    weeks: Sequence[PostureWeek]
    posture_accuracy: str
    osteoporosis: OsteoporosisFollowUp | None
    dvo_note: str | None = None
    issued_on: date | None = None
    extra: dict[str, Any] = field(default_factory=dict)


TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Orthosis follow-up",
        "patient": "Patient",
        "orthosis": "Orthosis",
        "size": "size",
        "prescribed": "Prescribed",
        "by": "by",
        "fitted": "Fitted",
        "not_fitted": "not yet fitted",
        "plan": "Wearing plan",
        "plan_text": "{start:g} h a day, +{step:g} h every {days} days, up to {target:g} h",
        "followups": "Outcome measures of the trials",
        "measure": "Measure",
        "visit_baseline": "Baseline",
        "visit_month_3": "3 months",
        "visit_month_6": "6 months",
        "change": "change",
        "due": "due",
        "evidence": "Change from baseline beside the published trials (after 6 months)",
        "evidence_note": "Percent change within each group as published. Maker-funded trials in "
        "orange, the independent trial in green (its other arms in light green).",
        "trials": "The trials",
        "funding": "Funding",
        "posture": "Posture sensor: wear and upright time by week",
        "week": "Week",
        "days": "Days",
        "wear": "Mean wear a day",
        "vs_plan": "of plan",
        "upright": "Upright",
        "reminders": "Reminders per hour worn",
        "no_posture": "No posture recordings.",
        "osteo": "Osteoporosis follow-up",
        "workup": "DVO basic work-up",
        "nutrition": "Calcium and vitamin D",
        "risk": "Risk factors",
        "drugs": "Drug therapy (as prescribed by the treating physician)",
        "no_drugs": "none recorded",
        "fractures": "Fractures",
        "heights": "Height",
        "yes": "yes",
        "no": "no",
        "unknown": "not asked",
        "research": "Research software, not a certified medical device.",
        "status_done": "done",
        "status_open": "open",
        "status_indicated": "indicated",
        "status_not_indicated": "not indicated",
        "imaging_indicated": "spine imaging indicated",
        "per_day": "a day",
    },
    "de": {
        "title": "Orthesen-Verlaufskontrolle",
        "patient": "Patient/in",
        "orthosis": "Orthese",
        "size": "Größe",
        "prescribed": "Verordnet",
        "by": "von",
        "fitted": "Angepasst",
        "not_fitted": "noch nicht angepasst",
        "plan": "Trageplan",
        "plan_text": "{start:g} h täglich, alle {days} Tage +{step:g} h, bis {target:g} h",
        "followups": "Zielgrößen der Studien",
        "measure": "Messgröße",
        "visit_baseline": "Ausgangswert",
        "visit_month_3": "3 Monate",
        "visit_month_6": "6 Monate",
        "change": "Änderung",
        "due": "fällig",
        "evidence": "Änderung gegenüber dem Ausgangswert neben den Studien (nach 6 Monaten)",
        "evidence_note": "Prozentuale Änderung innerhalb jeder Gruppe, wie veröffentlicht. "
        "Vom Hersteller finanzierte Studien orange, die unabhängige Studie grün (ihre anderen "
        "Gruppen hellgrün).",
        "trials": "Die Studien",
        "funding": "Finanzierung",
        "posture": "Haltungssensor: Trage- und aufrechte Zeit je Woche",
        "week": "Woche",
        "days": "Tage",
        "wear": "Mittlere Tragezeit je Tag",
        "vs_plan": "vom Plan",
        "upright": "Aufrecht",
        "reminders": "Erinnerungen je Tragestunde",
        "no_posture": "Keine Haltungsaufzeichnungen.",
        "osteo": "Osteoporose-Verlauf",
        "workup": "DVO-Basisdiagnostik",
        "nutrition": "Calcium und Vitamin D",
        "risk": "Risikofaktoren",
        "drugs": "Medikamentöse Therapie (wie vom behandelnden Arzt verordnet)",
        "no_drugs": "keine erfasst",
        "fractures": "Frakturen",
        "heights": "Körpergröße",
        "yes": "ja",
        "no": "nein",
        "unknown": "nicht erfragt",
        "research": "Forschungssoftware, kein zertifiziertes Medizinprodukt.",
        "status_done": "erledigt",
        "status_open": "offen",
        "status_indicated": "indiziert",
        "status_not_indicated": "nicht indiziert",
        "imaging_indicated": "Bildgebung der Wirbelsäule indiziert",
        "per_day": "pro Tag",
    },
}


CHART_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "patient": "this patient",
        "maker": "maker-funded",
        "independent": "independent",
        "null": "independent; no difference between groups",
        "lower": "lower is better",
        "higher": "higher is better",
        "x": "change from baseline (%)",
        "missing": "not recorded",
        "wear": "mean wear time (% of plan)",
        "upright": "upright (% of wear time)",
        "after_months": "after {n} months",
    },
    "de": {
        "patient": "Patient/in",
        "maker": "vom Hersteller finanziert",
        "independent": "unabhängig",
        "null": "unabhängig; kein Unterschied zwischen den Gruppen",
        "lower": "niedriger ist besser",
        "higher": "höher ist besser",
        "x": "Änderung gegenüber dem Ausgangswert (%)",
        "missing": "nicht erfasst",
        "wear": "mittlere Tragezeit (% vom Plan)",
        "upright": "aufrecht (% der Tragezeit)",
        "after_months": "nach {n} Monaten",
    },
}
MEASURE_NAMES_DE = {
    "back_extensor_strength": "Kraft der Rückenstrecker",
    "abdominal_flexor_strength": "Kraft der Bauchmuskeln",
    "kyphosis_angle": "Kyphosewinkel",
    "body_sway": "Körperschwankung",
    "pain": "Rückenschmerz",
    "well_being": "Wohlbefinden",
    "limitations_of_daily_living": "Einschränkungen im Alltag",
}


# Units and how each is measured, in German (the English ones are the measures' own).
MEASURE_UNITS_DE = {"deg": "°", "NRS 0-10": "NRS 0–10", "score 0-100": "Punkte 0–100"}
MEASURE_HOW_DE = {
    "back_extensor_strength": "isometrisches Maximum, bestes von drei (Dynamometer)",
    "abdominal_flexor_strength": "isometrisches Maximum, bestes von drei (Dynamometer)",
    "kyphosis_angle": "Kyphometer oder Flexikurve, im Stehen (weicht etwa 10° vom Röntgenbild "
    "ab [greendale2011])",
    "body_sway": "Posturographie oder Schwankungsmesser, Augen offen, im Stehen",
    "pain": "Durchschnitt der letzten Woche",
    "well_being": "Fragebogen der Praxis, höher ist besser (das Instrument der Studie ist ein "
    "anderes)",
    "limitations_of_daily_living": "Fragebogen der Praxis, höher ist stärker eingeschränkt (das "
    "Instrument der Studie ist ein anderes)",
}


def measure_name(key: str, lang: str) -> str:
    return MEASURE_NAMES_DE[key] if lang == "de" else MEASURES[key].name


def measure_unit(key: str, lang: str) -> str:
    unit = MEASURES[key].unit
    return MEASURE_UNITS_DE.get(unit, unit) if lang == "de" else unit


def measure_change_unit(key: str, lang: str) -> str:
    """The unit after a change (``+10 points``, ``-3°``): a scale's range is not a unit."""
    unit = MEASURES[key].unit
    if unit == "deg":
        return "°"
    if unit.startswith(("NRS", "score")):
        return " Punkte" if lang == "de" else " points"
    return f" {unit}"


def measure_how(key: str, lang: str) -> str:
    return MEASURE_HOW_DE[key] if lang == "de" else MEASURES[key].how


def evidence_figure(
    rows: Sequence[EvidenceRow], lang: str = "en", patient_months: int | None = None
) -> Figure:
    """Horizontal bars per measure: the patient's change and each published change.

    The trials report 6 months; the patient's bar names the visit it comes from, since a
    3-month change beside 6-month results must not read as like for like."""
    tx = CHART_TEXTS[check_lang(lang)]
    who = tx["patient"]
    if patient_months is not None:
        who = f"{who} ({tx['after_months'].format(n=patient_months)})"
    fig = Figure(figsize=(7.2, 0.24 * sum(1 + len(r.published) for r in rows) + 2.2))
    ax = fig.add_subplot(1, 1, 1)
    y = 0.0
    ticks: list[float] = []
    names: list[str] = []
    seen: set[str] = set()
    maker_i: dict[str, int] = {}
    for r in rows:
        bars: list[tuple[str, float | None, str, bool]] = [(who, r.patient_percent, PATIENT, True)]
        for p in r.published:
            if p.maker_funded:
                colour = MAKER[maker_i.setdefault(p.label, len(maker_i) % len(MAKER))]
                lab = f"{lx.trial_label(p.label, lang)} ({tx['maker']})"
            elif p.arm == "control" or "training" in p.arm:
                colour, lab = COMPARATOR, f"{lx.trial_label(p.label, lang)} ({tx['independent']})"
            else:
                colour, lab = INDEPENDENT, f"{lx.trial_label(p.label, lang)} ({tx['null']})"
            bars.append((lab, p.percent, colour, False))
        start = y
        for lab, val, colour, is_patient in bars:
            if val is None:
                if is_patient:
                    ax.text(0.5, y, tx["missing"], va="center", fontsize=6, color="#777")
            else:
                ax.barh(y, val, height=0.8, color=colour,
                        label=None if lab in seen else lab)  # fmt: skip
                seen.add(lab)
                ax.text(val + (1.5 if val >= 0 else -1.5), y, f"{val:+.0f}%", va="center",
                        ha="left" if val >= 0 else "right", fontsize=6)  # fmt: skip
            y += 1.0
        better = tx["lower"] if r.lower_is_better else tx["higher"]
        ticks.append((start + y - 1.0) / 2)
        names.append(f"{measure_name(r.key, lang)}\n({better})")
        y += 0.8
    ax.set_yticks(ticks, names, fontsize=7)
    ax.invert_yaxis()
    ax.axvline(0.0, color="#333", lw=0.8)
    ax.set_xlabel(tx["x"], fontsize=7)
    charts._style(ax)
    lo, hi = ax.get_xlim()
    ax.set_xlim(min(lo, -60.0) - 10, max(hi, 80.0) + 10)
    # One entry a line below the plot, with room kept for it: the trials' labels are long and
    # two columns ran past the figure's edge.
    handles, labels = ax.get_legend_handles_labels()
    inch = 0.13 * len(labels) + 0.1
    fig.set_figheight(fig.get_figheight() + inch)
    fig.legend(handles, labels, fontsize=6, loc="lower left", ncol=1, frameon=False,
               bbox_to_anchor=(0.02, 0.0))  # fmt: skip
    fig.tight_layout(rect=(0.0, inch / fig.get_figheight(), 1.0, 1.0))
    return fig


def posture_trend_figure(weeks: Sequence[PostureWeek], lang: str = "en") -> Figure:
    """Mean daily wear against the plan (bars) and the upright fraction (line), by week."""
    tx = CHART_TEXTS[check_lang(lang)]
    fig = Figure(figsize=(7.2, 2.6))
    ax = fig.add_subplot(1, 1, 1)
    x = list(range(len(weeks)))
    vs = [100 * (w.mean_wear_vs_plan or 0.0) for w in weeks]
    ax.bar(x, vs, color=PATIENT, alpha=0.8, label=tx["wear"])
    ax.axhline(100.0, color="#333", lw=0.8, ls="--")
    ax.plot(x, [100 * (w.upright_fraction or 0.0) for w in weeks], color=INDEPENDENT,
            marker="o", label=tx["upright"])  # fmt: skip
    ax.set_xticks(x, [w.week for w in weeks], fontsize=7, rotation=30)
    ax.set_ylabel("%", fontsize=7)
    ax.set_ylim(0, max([120.0, *vs]) * 1.05)
    charts._style(ax)
    charts._legend_above(ax, ax.get_legend_handles_labels()[0], 2)
    fig.tight_layout()
    return fig


def posture_recording_figure(
    sig: PostureSignals, analysis: PostureAnalysis, title: str = ""
) -> Figure:
    """Forward inclination over a recording: threshold, slumps, reminders, time off."""
    fig = Figure(figsize=(10, 3.2))
    ax = fig.add_subplot(1, 1, 1)
    t_min = sig.t_s / 60.0
    shown = np.where(sig.worn, sig.forward_deg, np.nan)  # no angle while the sensor is off
    ax.plot(t_min, shown, lw=0.5, color=PATIENT, label="forward inclination (sensor)")
    thr = float(analysis.settings["slump_deg"])  # type: ignore[arg-type]
    ax.axhline(thr, color=charts.RED, lw=0.8, ls="--", label=f"slump threshold {thr:g} deg")
    off = ~sig.worn
    if off.any():
        ax.fill_between(t_min, 0, 1, where=off, transform=ax.get_xaxis_transform(),
                        color="#cccccc", alpha=0.5, label="not worn")  # fmt: skip
    for i, s in enumerate(analysis.slumps):
        ax.axvspan(s.onset_s / 60, s.end_s / 60, color=charts.ORANGE, alpha=0.25,
                   label="slump" if i == 0 else None)  # fmt: skip
    for i, r in enumerate(analysis.reminders):
        ax.axvline(r.t_s / 60, color=charts.RED, lw=1.0,
                   label="reminder" if i == 0 else None)  # fmt: skip
    ax.set_xlabel("time (min)", fontsize=7)
    ax.set_ylabel("deg from calibrated upright", fontsize=7)
    ax.set_ylim(-30, 90)
    if title:
        ax.set_title(title, fontsize=8, loc="left", pad=16)
    charts._style(ax)
    charts._legend_above(ax, ax.get_legend_handles_labels()[0], 5)
    fig.tight_layout()
    return fig


def _visit_table(data: OrthosisReportData, lang: str) -> list[dict[str, Any]]:
    """Rows: measure, value at each visit, change at 3 and 6 months."""
    by_visit = {f.visit: f for f in data.followups}
    change = {v: {c.key: c for c in cs} for v, cs in data.changes}
    rows = []
    for key in MEASURES:
        vals = {
            v.value: (getattr(by_visit[v].measures, key) if v in by_visit else None)
            for v in FollowUpVisit
        }
        if all(x is None for x in vals.values()):
            continue
        rows.append(
            {
                "name": measure_name(key, lang),
                "unit": measure_unit(key, lang),
                "values": vals,
                "changes": {v.value: change.get(v, {}).get(key) for v in FollowUpVisit},
            }
        )
    return rows


def orthosis_report_context(
    data: OrthosisReportData, clinic: ClinicInfo, *, lang: str = "de"
) -> dict[str, Any]:
    lang = check_lang(lang)
    return {
        "clinic": clinic,
        "d": data,
        "o": TEXTS[lang],
        # code values and the clinical modules' texts in the document's language
        "label": lambda kind, value: lx.label(kind, value, lang),
        "lx": lx,
        "visits": list(FollowUpVisit),
        "table": _visit_table(data, lang),
        "evidence_chart": charts.to_data_uri(
            evidence_figure(
                data.evidence, lang, data.changes[-1][0].months if data.changes else None
            )
        ),
        "trend_chart": (
            charts.to_data_uri(posture_trend_figure(data.weeks, lang)) if data.weeks else None
        ),
    }


def render_orthosis_report(
    data: OrthosisReportData,
    out: Path | str,
    *,
    clinic: ClinicInfo | None = None,
    lang: str = "de",
    template_dir: Path | str | None = None,
) -> Path:
    ctx = orthosis_report_context(data, clinic or ClinicInfo(), lang=lang)
    return render_pdf("orthosis_report.html", ctx, out, lang=lang, template_dir=template_dir)
