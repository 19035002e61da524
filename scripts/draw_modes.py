"""Draw docs/img/modes.png: each treatment mode's target curve, from the controller itself.

Run ``.venv/bin/python scripts/draw_modes.py`` after a change to the modes (therapy/profile.py,
therapy/controller.py); docs/modes.md shows the figure. The patient: lumbar, 80 kg, L4/5,
session 1 (peak 1/3 body weight, base half of it), 15 minutes of traction so that the cycles
stay readable.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from spinecare.reports.mode_chart import mode_curves_png
from spinecare.therapy.curve import target_curve
from spinecare.therapy.protocol import Protocol, default_protocol

OUT = Path(__file__).resolve().parents[1] / "docs" / "img" / "modes.png"
MINUTES = 15.0
# (title, protocol changes, close-up window in s)
MODES: list[tuple[str, dict[str, Any], tuple[float, float]]] = [
    ("intermittent (the default): ramp, hold 60 s, release to base, rest 30 s", {}, (0, 120)),
    (
        "static: one sustained pull, ramped from base and released to base",
        {"mode": "static"},
        (0, 60),
    ),
    ("cyclic: ramps up and down without holds or rests", {"mode": "cyclic"}, (0, 60)),
    (
        "progressive and regressive steps: 3 rising, 2 falling (intermittent main phase)",
        {"progressive_steps": 3, "regressive_steps": 2},
        (0, 300),
    ),
    (
        "logarithmic ramp (start 2x the mean rate), linear release",
        {"ramp_shape": "logarithmic"},
        (8, 32),
    ),
    (
        "hold oscillation: 12 N at 0.2 Hz below the peak (intermittent)",
        {"oscillation_amplitude_n": 12.0},
        (10, 90),
    ),
    (
        "combined: static with 2 + 2 steps, logarithmic ramps, oscillation 10 N",
        {
            "mode": "static",
            "progressive_steps": 2,
            "regressive_steps": 2,
            "ramp_shape": "logarithmic",
            "oscillation_amplitude_n": 10.0,
        },
        (0, 240),
    ),
]


def main() -> int:
    base = default_protocol("lumbar", 80, "L4/5", traction_minutes=MINUTES)
    curves = [
        target_curve(Protocol.model_validate({**base.model_dump(), **changes}), 0.1)
        for _, changes, _ in MODES
    ]
    png = mode_curves_png(curves, titles=[t for t, _, _ in MODES], windows=[w for _, _, w in MODES])
    OUT.write_bytes(png)
    print(f"{OUT} ({len(png)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
