"""Charts for the reports: matplotlib (Agg, no display) -> PNG -> data URI for the HTML.

Figures are created and closed here, never left in pyplot's global state, so a long-running
web process does not leak memory.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import numpy as np
import numpy.typing as npt
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

Floats = npt.NDArray[np.float64]

BLUE = "#1f5f8b"
ORANGE = "#d9822b"
GREY = "#7a7a7a"
RED = "#c0392b"
DPI = 150
# Figure sizes (inches) matching their frames on the A4 page (170 mm text width): full width,
# and half width for two charts side by side.
FULL_WIDTH = (7.2, 1.9)
HALF_WIDTH = (3.6, 1.9)


def _style(ax: Any) -> None:
    ax.grid(True, color="#dddddd", linewidth=0.6)
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.tick_params(labelsize=7)


def _legend_above(ax: Any, handles: list[Any], ncol: int) -> None:
    labels = [str(h.get_label()) for h in handles]
    ax.legend(handles, labels, fontsize=7, loc="lower center", ncol=ncol, frameon=False,
              bbox_to_anchor=(0.5, 1.0))  # fmt: skip


def to_png(fig: Figure, dpi: int = DPI) -> bytes:
    """PNG bytes; a figure with a layout engine keeps its size (two charts side by side come
    out equally high), any other is cropped to its content."""
    buf = io.BytesIO()
    tight = fig.get_layout_engine() is None
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    return buf.getvalue()


def to_data_uri(fig: Figure) -> str:
    return "data:image/png;base64," + base64.b64encode(to_png(fig)).decode("ascii")


def force_time_chart(
    t_s: Floats,
    target_n: Floats,
    measured_n: Floats,
    segment_n: Floats | None,
    guarding_t_s: Sequence[float],
    fault_t_s: Sequence[float],
    labels: Mapping[str, str],
    *,
    height: float = 1.95,
) -> str:
    """The force-time chart as a data URI for the report templates (flatter than the
    recording's force.png, so a session's report with its events fits one page)."""
    fig = force_time_figure(
        t_s, target_n, measured_n, segment_n, guarding_t_s, fault_t_s, labels, height=height
    )
    return to_data_uri(fig)


SESSION_LABELS_EN = {
    "measured": "measured force",
    "target": "target force",
    "segment": "at target segment (model estimate)",
    "guarding": "counter-tension",
    "fault": "fault / stop",
    "x": "time (min)",
    "y": "force (N)",
}


def session_force_png(
    telemetry: Mapping[str, npt.NDArray[Any]],
    events: Sequence[Mapping[str, Any]],
    *,
    title: str = "",
    dpi: int = 110,
) -> bytes:
    """The chart `spinecare session run` writes next to a recording (force.png)."""
    fig = force_time_figure(
        np.asarray(telemetry["t_s"], dtype=float),
        np.asarray(telemetry["target_n"], dtype=float),
        np.asarray(telemetry["measured_n"], dtype=float),
        np.asarray(telemetry["segment_force_n"], dtype=float),
        [float(e["t_s"]) for e in events if e.get("kind") == "guarding"],
        [float(e["t_s"]) for e in events if e.get("kind") in ("fault", "stop")],
        SESSION_LABELS_EN,
    )
    if title:
        fig.suptitle(title, fontsize=9, y=1.08)
    return to_png(fig, dpi=dpi)


def force_time_figure(
    t_s: Floats,
    target_n: Floats,
    measured_n: Floats,
    segment_n: Floats | None,
    guarding_t_s: Sequence[float],
    fault_t_s: Sequence[float],
    labels: Mapping[str, str],
    *,
    height: float = 3.0,
) -> Figure:
    """Target and measured force over the session (minutes), the model's segment force, and
    markers at each counter-tension (red triangles) and fault (black crosses)."""

    fig = Figure(figsize=(7.2, height))
    ax = fig.add_subplot()
    t_min = t_s / 60.0
    ax.plot(t_min, measured_n, color=BLUE, linewidth=0.9, label=labels["measured"], zorder=2)
    ax.plot(t_min, target_n, color=ORANGE, linewidth=0.9, linestyle="--", label=labels["target"],
            zorder=3)  # fmt: skip
    if segment_n is not None and np.isfinite(segment_n).any():
        ax.plot(t_min, segment_n, color=GREY, linewidth=0.8, alpha=0.8, label=labels["segment"])
    top = float(np.nanmax(np.concatenate([target_n, measured_n]))) if len(t_s) else 1.0
    if guarding_t_s:
        g = np.asarray(guarding_t_s, dtype=float)
        ax.scatter(g / 60.0, np.interp(g, t_s, measured_n) + 0.04 * top, marker="v", s=22,
                   color=RED, zorder=5, label=labels["guarding"])  # fmt: skip
    if fault_t_s:
        f = np.asarray(fault_t_s, dtype=float)
        ax.scatter(f / 60.0, np.interp(f, t_s, measured_n), marker="x", s=30, color="black",
                   zorder=6, label=labels["fault"])  # fmt: skip
    ax.set_xlabel(labels["x"], fontsize=8)
    ax.set_ylabel(labels["y"], fontsize=8)
    ax.set_ylim(bottom=0, top=top * 1.15 if top > 0 else 1.0)
    ax.set_xlim(left=0)
    _style(ax)
    ax.legend(fontsize=7, loc="lower center", ncol=5, frameon=False, bbox_to_anchor=(0.5, 1.0))
    return fig


def dose_chart(
    sessions: Sequence[int],
    peak_n: Sequence[float],
    time_at_force_min: Sequence[float],
    labels: Mapping[str, str],
) -> str:
    """Peak force (bars) and time at force (line, right axis) per session; half the page wide
    (it sits beside the counter-tension chart), the legend in two rows so it fits its width."""
    fig = Figure(figsize=HALF_WIDTH, layout="constrained")
    ax = fig.add_subplot()
    ax.bar(sessions, peak_n, color=BLUE, width=0.6, label=labels["peak"])
    ax.set_xlabel(labels["x"], fontsize=8)
    ax.set_ylabel(labels["peak"], fontsize=8)
    ax.set_xticks(list(sessions))
    _style(ax)
    ax2 = ax.twinx()
    ax2.plot(sessions, time_at_force_min, color=ORANGE, marker="o", markersize=3,
             linewidth=1.0, label=labels["time"])  # fmt: skip
    ax2.set_ylabel(labels["time"], fontsize=8)
    ax2.set_ylim(bottom=0)
    ax2.tick_params(labelsize=7)
    ax2.spines["top"].set_visible(False)
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    _legend_above(ax, handles, ncol=1)
    _sparse_ticks(ax, sessions)
    return to_data_uri(fig)


def _sparse_ticks(ax: Any, sessions: Sequence[int]) -> None:
    """Every session number up to 12, then every other one, so the labels never overlap in a
    half-width chart."""
    nums = list(sessions)
    ax.set_xticks(nums if len(nums) <= 12 else nums[::2])


def guarding_chart(
    sessions: Sequence[int], counts: Sequence[int], labels: Mapping[str, str]
) -> str:
    # The same height as the dose chart beside it (its legend rows are the empty title here).
    fig = Figure(figsize=HALF_WIDTH, layout="constrained")
    ax = fig.add_subplot()
    ax.bar(sessions, counts, color=RED, width=0.6)
    ax.set_xlabel(labels["x"], fontsize=8)
    ax.set_ylabel(labels["y"], fontsize=8)
    _sparse_ticks(ax, sessions)
    ax.set_ylim(bottom=0, top=max(1, *counts) * 1.1 if counts else 1)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    _style(ax)
    return to_data_uri(fig)


def outcome_chart(
    sessions: Sequence[int],
    pain_before: Sequence[float | None],
    pain_after: Sequence[float | None],
    odi_sessions: Sequence[int],
    odi: Sequence[float],
    labels: Mapping[str, str],
) -> str:
    """Pain NRS before/after each session (0-10, left) and ODI % (0-100, right)."""
    fig = Figure(figsize=FULL_WIDTH, layout="constrained")
    ax = fig.add_subplot()

    def series(values: Sequence[float | None]) -> Floats:
        return np.array([np.nan if v is None else float(v) for v in values], dtype=float)

    ax.plot(sessions, series(pain_before), color=RED, marker="o", markersize=3, linewidth=1.0,
            label=labels["before"])  # fmt: skip
    ax.plot(sessions, series(pain_after), color=BLUE, marker="o", markersize=3, linewidth=1.0,
            label=labels["after"])  # fmt: skip
    ax.set_ylim(0, 10.5)
    ax.set_ylabel("NRS", fontsize=8)
    ax.set_xlabel(labels["x"], fontsize=8)
    ax.set_xticks(list(sessions))
    _style(ax)
    handles = ax.get_legend_handles_labels()[0]
    if len(odi):
        ax2 = ax.twinx()
        ax2.plot(odi_sessions, odi, color=GREY, marker="s", markersize=4, linewidth=1.2,
                 linestyle=":", label=labels["odi"])  # fmt: skip
        ax2.set_ylim(0, 100)
        ax.set_xticks(sorted({*sessions, *odi_sessions}))
        ax2.set_ylabel(labels["odi"], fontsize=8)
        ax2.tick_params(labelsize=7)
        ax2.spines["top"].set_visible(False)
        handles += ax2.get_legend_handles_labels()[0]
    _legend_above(ax, handles, ncol=3)
    return to_data_uri(fig)
