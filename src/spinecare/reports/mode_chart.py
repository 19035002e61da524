"""Charts of treatment modes' target curves (therapy/curve.py): one row per curve, the whole
session on the left and, where a window is given, a close-up of it on the right.

Used by ``spinecare session curve --png`` and for the figure in docs/modes.md
(``scripts/draw_modes.py``). Figures are created and closed here, never left in pyplot's state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import numpy as np
from matplotlib.figure import Figure

from spinecare.reports.charts import BLUE, GREY, ORANGE, to_png
from spinecare.therapy.curve import TargetCurve

# Background of the programme's stages (progressive and regressive steps).
STAGE_COLOURS = {"progressive": "#e8f1e4", "regressive": "#f6ece0"}


def _style(ax: Any) -> None:
    ax.grid(True, color="#dddddd", linewidth=0.6)
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.tick_params(labelsize=7)


def _stages(ax: Any, c: TargetCurve, scale: float) -> None:
    """Shade where the programme pulls to step levels."""
    stage = np.asarray(c.stage)
    for name, colour in STAGE_COLOURS.items():
        on = stage == name
        if not on.any():
            continue
        edges = np.flatnonzero(np.diff(np.concatenate(([0], on.astype(np.int8), [0]))))
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            ax.axvspan(c.t_s[a] / scale, c.t_s[b - 1] / scale, color=colour, lw=0, zorder=0)


def _panel(ax: Any, c: TargetCurve, lo: float, hi: float, *, minutes: bool) -> None:
    scale = 60.0 if minutes else 1.0
    sel = (c.t_s >= lo) & (c.t_s <= hi)
    t = c.t_s[sel] / scale
    p = c.protocol
    _stages(ax, c, scale)
    ax.axhline(p.peak_force_n, color=GREY, lw=0.6, ls=":")
    ax.axhline(p.base_force_n, color=GREY, lw=0.6, ls=":")
    ax.plot(t, c.target_n[sel], color=BLUE, lw=1.0, label="target (cable)")
    ax.plot(t, c.segment_n[sel], color=ORANGE, lw=0.8, ls="--", label=f"at {p.segment} (model)")
    ax.set_xlim(lo / scale, hi / scale)
    ax.set_ylim(0.0, p.peak_force_n * 1.12)
    _style(ax)


def mode_curves_png(
    curves: Sequence[TargetCurve],
    *,
    titles: Sequence[str] | None = None,
    windows: Sequence[tuple[float, float] | None] | None = None,
) -> bytes:
    """One row per curve: the session in minutes, and a close-up (seconds) where a window is
    given. Base and peak are dotted; step stages are shaded (green rising, sand falling)."""
    n = len(curves)
    wins = list(windows) if windows is not None else [None] * n
    zoomed = any(w is not None for w in wins)
    cols = 2 if zoomed else 1
    fig = Figure(figsize=(10.0 if zoomed else 7.5, 1.9 * n + 0.4))
    axes = fig.subplots(n, cols, squeeze=False, gridspec_kw={"width_ratios": [3, 2][:cols]})
    for i, c in enumerate(curves):
        left = axes[i][0]
        _panel(left, c, 0.0, c.duration_s, minutes=True)
        title = titles[i] if titles is not None else _title(c)
        left.set_title(title, fontsize=8, loc="left")
        left.set_ylabel("force, N", fontsize=7)
        if i == n - 1:
            left.set_xlabel("session time, min", fontsize=7)
        if zoomed:
            right = axes[i][1]
            win = wins[i]
            if win is None:
                right.set_axis_off()
            else:
                _panel(right, c, win[0], win[1], minutes=False)
                right.set_title(f"close-up {win[0]:g}-{win[1]:g} s", fontsize=8, loc="left")
                if i == n - 1:
                    right.set_xlabel("session time, s", fontsize=7)
        if i == 0:
            left.legend(fontsize=7, loc="lower right", frameon=False, ncol=2)
    fig.tight_layout()
    return to_png(fig)


def _title(c: TargetCurve) -> str:
    p = c.protocol
    parts = [p.mode.value, f"{p.ramp_shape.value} ramp"]
    if p.progressive_steps or p.regressive_steps:
        parts.append(f"{p.progressive_steps} up / {p.regressive_steps} down steps")
    if p.oscillation_amplitude_n:
        parts.append(f"oscillation {p.oscillation_amplitude_n:g} N at {p.oscillation_hz:g} Hz")
    return (
        ", ".join(parts)
        + f" — {p.region.value}, {p.body_weight_kg:g} kg, peak {p.peak_force_n:g} N"
    )
