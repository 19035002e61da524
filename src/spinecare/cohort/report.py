"""The cohort report: HTML and PDF with plots, from a run's records and figures.

One HTML page (plots embedded as PNG) is written as ``report.html`` and rendered to
``report.pdf`` by WeasyPrint, so both show the same. The comparison of two runs has its own page.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spinecare.cohort.spec import CohortSpec
from spinecare.cohort.summary import sessions_of

_CSS = """
body { font-family: 'DejaVu Sans', sans-serif; font-size: 10pt; margin: 1.5em; color: #222; }
h1 { font-size: 16pt; } h2 { font-size: 12.5pt; margin-top: 1.4em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 8.5pt; }
td, th { border: 1px solid #bbb; padding: 2px 6px; text-align: right; }
th { background: #eee; } td:first-child, th:first-child { text-align: left; }
.bad { color: #b00; font-weight: bold; } .ok { color: #070; font-weight: bold; }
img { width: 16cm; } .note { color: #555; font-size: 9pt; }
@page { size: A4; margin: 1.5cm; }
"""


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _table(rows: Sequence[dict[str, Any]], cols: Sequence[str] | None = None) -> str:
    if not rows:
        return "<p>none</p>"
    keys = list(cols or rows[0].keys())
    # Zero-width spaces after underscores let long column names wrap within the page.
    head = "".join(f"<th>{html.escape(k).replace('_', '_&#8203;')}</th>" for k in keys)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(k)))}</td>" for k in keys) + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _plots(patients: Sequence[dict[str, Any]], summary: dict[str, Any]) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ss = [s for _, s in sessions_of(patients)]
    normal = [s for s in ss if "fault" not in s]
    out: dict[str, str] = {}

    fig, ax = plt.subplots(1, 2, figsize=(9, 3))
    ax[0].hist([s["peak_force_pct_bw"] for s in ss], bins=30, color="#4477aa")
    ax[0].set_xlabel("peak measured force, % body weight")
    ax[0].set_ylabel("sessions")
    errs = [100 * s["hold_rel_error"] for s in normal if s["hold_rel_error"] is not None]
    ax[1].hist(errs, bins=30, color="#228833")
    ax[1].set_xlabel("mean |measured - commanded| in holds, % of commanded")
    out["force"] = _png(fig)

    fig, ax = plt.subplots(1, 2, figsize=(9, 3))
    lat = [x for s in ss for x in s["latency_ms"]]
    ax[0].hist(lat or [0.0], bins=30, color="#aa3377")
    # Counts on a log scale: in a large cohort nearly every event falls in the first bin, and
    # the rare late detections, the ones worth seeing, would not show on a linear axis.
    ax[0].set_yscale("log")
    ax[0].set_xlabel("detection latency from measurable, ms")
    ax[0].set_ylabel("guarding events (log scale)")
    tgt = [s["target_axial_n"] for s in ss if s.get("neighbour_axial_n_max")]
    nb = [s["neighbour_axial_n_max"] for s in ss if s.get("neighbour_axial_n_max")]
    ax[1].scatter(nb, tgt, s=6, color="#ee6677")
    if nb:
        top = max(max(nb), max(tgt))
        ax[1].plot([0, top], [0, top], color="#999", lw=0.8)
    ax[1].set_xlabel("strongest neighbour, axial N (model)")
    ax[1].set_ylabel("target segment, axial N (model)")
    out["latency_segments"] = _png(fig)

    prog = summary["progression"]
    fig, ax = plt.subplots(1, 2, figsize=(9, 3))
    k = [p["session"] for p in prog]
    ax[0].plot(k, [p["peak_target_pct_bw_mean"] for p in prog], marker="o")
    ax[0].set_xlabel("session of the course")
    ax[0].set_ylabel("planned peak, % BW (mean)")
    ax[1].plot(k, [p["elongation_max_mm_mean"] for p in prog], marker="o", color="#228833")
    ax[1].set_xlabel("session of the course")
    ax[1].set_ylabel("max distraction, mm (simulated truth)")
    out["progression"] = _png(fig)

    faults = summary["faults"]
    if faults:
        fig, ax = plt.subplots(figsize=(9, 3))
        data = [f["time_to_safe_s"] or [float("nan")] for f in faults]  # never slack: empty
        ax.boxplot(data, tick_labels=[f["fault"] for f in faults], vert=True)
        ax.set_ylabel("time to the safe state, s")
        ax.tick_params(axis="x", rotation=30)
        out["faults"] = _png(fig)
    return out


def report_html(
    spec: CohortSpec, patients: Sequence[dict[str, Any]], summary: dict[str, Any]
) -> str:
    plots = _plots(patients, summary)
    viol = int(summary["limit_violations"])
    verdict = (
        '<span class="ok">0 limit violations</span>'
        if viol == 0
        else f'<span class="bad">{viol} limit violations</span>'
    )
    figures = [
        {"figure": k, "value": summary.get(k)}
        for k in (
            "patients",
            "screened_out",
            "patient_sessions",
            "completed",
            "tolerated",
            "limit_violations",
            "peak_force_pct_bw_max",
            "peak_force_pct_bw_p95",
            "hold_tracking_error_pct_mean",
            "hold_tracking_error_pct_p95",
            "hold_within_10pct_min",
            "time_at_target_fraction_of_hold",
            "guarding_true",
            "guarding_recall",
            "false_stops_per_session",
            "detection_latency_ms_p50",
            "detection_latency_ms_p95",
            "target_over_neighbour_axial_mean",
            "target_strongest_fraction",
            "base_tension_lost_s_max",
        )
    ]
    safety = summary["safety_events"]
    safety_rows = [{"event": k, "count": v} for k, v in safety.items() if k != "faults_detected"]
    safety_rows += [
        {"event": f"detected: {k}", "count": v} for k, v in safety["faults_detected"].items()
    ]
    run = summary.get("run", {})
    fault_cols = [
        "fault",
        "sessions",
        "released",
        "limit_violations",
        "time_to_zero_command_s_p50",
        "time_to_zero_command_s_max",
        "time_to_safe_s_p50",
        "time_to_safe_s_p95",
        "time_to_safe_s_max",
        "never_slack",
    ]
    parts = [
        f"<h1>Virtual cohort: {html.escape(spec.protocol_name)}</h1>",
        f"<p>{spec.patients} virtual patients x {spec.sessions} sessions, seed {spec.seed}"
        f"{'' if spec.minutes is None else f', {spec.minutes:g} min traction'}"
        f"{', EMG' if spec.emg else ''}"
        f"{', faults: ' + ', '.join(f.value for f in spec.faults) if spec.faults else ''}. "
        f"{verdict}.</p>",
        '<p class="note">Simulated patients and a simulated table: research software, not '
        "evidence about real patients. Segment forces are model estimates.</p>",
        "<h2>Figures</h2>",
        _table(figures),
        "<h2>Peak force and tracking in holds</h2>",
        f'<img src="{plots["force"]}">',
        "<h2>Guarding detection and the target segment</h2>",
        f'<img src="{plots["latency_segments"]}">',
        "<h2>Progression across the course</h2>",
        _table(summary["progression"]),
        f'<img src="{plots["progression"]}">',
        "<h2>Safety events</h2>",
        _table(safety_rows),
    ]
    if summary["faults"]:
        parts += [
            "<h2>Injected faults: time to the safe state</h2>",
            '<p class="note">Safe state: zero commanded and the table slack (below 5 N). A '
            "stalled winch cannot pay out: zero is commanded but the table stays loaded "
            "(never_slack).</p>",
            _table(summary["faults"], fault_cols),
            f'<img src="{plots["faults"]}">',
        ]
    if run:
        parts += ["<h2>Run</h2>", _table([{"item": k, "value": v} for k, v in run.items()])]
    return _page("".join(parts))


def _page(body: str) -> str:
    head = f"<head><meta charset='utf-8'><style>{_CSS}</style></head>"
    return f"<html>{head}<body>{body}</body></html>"


def compare_html(name_a: str, name_b: str, rows: Sequence[dict[str, Any]]) -> str:
    body = (
        f"<h1>Cohort comparison: {html.escape(name_b)} - {html.escape(name_a)}</h1>"
        "<p>Paired on the same virtual patients: per patient the mean over its sessions, then "
        "the mean difference with a 95% bootstrap interval over patients.</p>" + _table(rows)
    )
    return (
        f"<html><head><meta charset='utf-8'><style>{_CSS}</style></head><body>{body}</body></html>"
    )


def report_write(html_text: str, out_dir: Path, stem: str = "report") -> tuple[Path, Path]:
    """``<stem>.html`` and ``<stem>.pdf`` in ``out_dir``."""
    import weasyprint

    out_dir.mkdir(parents=True, exist_ok=True)
    html_path = out_dir / f"{stem}.html"
    pdf_path = out_dir / f"{stem}.pdf"
    html_path.write_text(html_text, encoding="utf-8")
    weasyprint.HTML(string=html_text).write_pdf(str(pdf_path))
    return html_path, pdf_path
