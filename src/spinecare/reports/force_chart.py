"""The force-time chart of a session: target and measured force, base, guarding and faults.

Used by `spinecare session run` (PNG next to the telemetry) and by the session report PDF.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt


def force_chart_png(
    telemetry: Mapping[str, npt.NDArray[Any]],
    events: Sequence[Mapping[str, Any]],
    *,
    title: str = "",
    lang: str = "en",
    width_in: float = 10.0,
    height_in: float = 4.0,
    dpi: int = 110,
) -> bytes:
    """Render the chart and return PNG bytes (the caller decides where they go)."""
    de = lang == "de"
    t = np.asarray(telemetry["t_s"], dtype=float) / 60.0
    fig, ax = plt.subplots(figsize=(width_in, height_in), dpi=dpi)
    try:
        ax.plot(
            t,
            telemetry["measured_n"],
            lw=0.8,
            color="#1f77b4",
            label="Kraft gemessen" if de else "measured force",
        )
        ax.plot(
            t,
            telemetry["target_n"],
            lw=1.0,
            ls="--",
            color="#333333",
            label="Sollkraft" if de else "target force",
        )
        if "segment_force_n" in telemetry:
            ax.plot(
                t,
                telemetry["segment_force_n"],
                lw=0.7,
                color="#2ca02c",
                alpha=0.8,
                label="am Zielsegment (Modell)" if de else "at target segment (model)",
            )
        guard_t = [float(e["t_s"]) / 60.0 for e in events if e.get("kind") == "guarding"]
        if guard_t:
            ymax = float(np.nanmax(telemetry["measured_n"])) if len(t) else 1.0
            ax.scatter(
                guard_t,
                [ymax * 1.04] * len(guard_t),
                marker="v",
                color="#d62728",
                s=28,
                zorder=5,
                label="Gegenspannung" if de else "counter-tension",
            )
        for e in events:
            if e.get("kind") in ("fault", "stop"):
                ax.axvline(float(e["t_s"]) / 60.0, color="#ff7f0e", lw=1.2)
        ax.set_xlabel("Zeit (min)" if de else "time (min)")
        ax.set_ylabel("Kraft (N)" if de else "force (N)")
        if title:
            ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)
