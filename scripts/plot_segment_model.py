"""Regenerate docs/img/segment-model.png: the segment model's axial force per segment vs angle.

Usage: .venv/bin/python scripts/plot_segment_model.py [--out PATH]
Worked case of docs/segment-model.md: 80 kg; lumbar 300 N, cervical 80 N (about 10% body
weight); split and fixed table. Dots mark the angle the model recommends for each segment.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from spinecare.therapy.segments import (
    ANGLE_RANGE_DEG,
    recommend_angle,
    segment_transfer,
)
from spinecare.vocab import SEGMENTS, Region, TableType

WEIGHT_KG = 80.0
FORCE_N = {Region.LUMBAR: 300.0, Region.CERVICAL: 80.0}
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "docs" / "img" / "segment-model.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    fig, axes = plt.subplots(2, 2, figsize=(11, 8), sharex="col")
    for col, region in enumerate(Region):
        lo, hi = ANGLE_RANGE_DEG[region]
        angles = [lo + i * (hi - lo) / 200 for i in range(201)]
        force = FORCE_N[region]
        for row, table in enumerate((TableType.SPLIT, TableType.FIXED)):
            ax = axes[row][col]
            cmap = plt.get_cmap("viridis")
            segs = SEGMENTS[region]
            for k, seg in enumerate(segs):
                color = cmap(k / max(1, len(segs) - 1))
                axial = [
                    segment_transfer(region, WEIGHT_KG, a, table, seg).axial_n(force)
                    for a in angles
                ]
                ax.plot(angles, axial, color=color, label=seg)
                best = recommend_angle(seg, region, WEIGHT_KG, table, force)
                at_best = segment_transfer(region, WEIGHT_KG, best, table, seg).axial_n(force)
                ax.plot([best], [at_best], "o", color=color, markersize=6)
            transmitted = [
                segment_transfer(region, WEIGHT_KG, a, table, segs[0]).transmitted_n(force)
                for a in angles
            ]
            ax.plot(angles, transmitted, "k--", linewidth=1, label="transmitted")
            ax.axhline(force, color="grey", linewidth=0.8, linestyle=":", label="cable")
            ax.set_title(
                f"{region.value}, {table.value} table: {WEIGHT_KG:g} kg, cable {force:g} N",
                fontsize=10,
            )
            ax.set_ylabel("axial (distraction) force, N")
            ax.grid(alpha=0.3)
            if row == 1:
                ax.set_xlabel("pull angle above table plane, deg")
            if row == 0:
                ax.legend(fontsize=8, ncol=2, loc="lower center")
    fig.suptitle(
        "Segment model: model estimate, not a measurement (dots: recommended angle)", fontsize=12
    )
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(args.out)


if __name__ == "__main__":
    main()
