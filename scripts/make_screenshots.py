"""Regenerate the README pictures: the terminal monitor mid-session and a session's force chart.

Runs a short fast simulated session, renders the live monitor panel as it looked at a hold,
and turns it into a PNG via rich's HTML export, WeasyPrint and pdftoppm (poppler-utils).
Usage: .venv/bin/python scripts/make_screenshots.py
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from rich.console import Console
from weasyprint import HTML

from spinecare.cli.session import _Monitor
from spinecare.cohort.run import VirtualSession, make_table
from spinecare.reports.charts import session_force_png
from spinecare.runtime.recorder import Recorder, load_events, load_telemetry
from spinecare.runtime.session import TELEMETRY_COLUMNS, SessionRunner, TickView
from spinecare.vocab import Region

IMG = Path(__file__).resolve().parent.parent / "docs" / "img"


def main() -> None:
    vs = VirtualSession(seed=3, region=Region.LUMBAR, weight_kg=80.0, segment="L4/5", minutes=30)
    proto = vs.protocol()
    views: list[TickView] = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "s"
        runner = SessionRunner(
            proto,
            make_table(vs),
            recorder=Recorder(out, TELEMETRY_COLUMNS, fsync=False),
            subscribers=(views.append,),
            tick_view_every=50,
        )
        runner.run()
        png = session_force_png(
            load_telemetry(out), load_events(out), title="lumbar L4/5, 80 kg (simulated)"
        )
        (IMG / "session-force.png").write_bytes(png)
    view = next(v for v in views if v.phase == "hold" and v.t_s > 600)
    monitor = _Monitor(enabled=False, fast=False, speed=1.0)
    monitor.proto = runner.protocol
    console = Console(record=True, width=88, color_system="truecolor")
    console.print(monitor._render(view))
    html = console.export_html(inline_styles=True)
    html = html.replace(
        "<body>", "<body style='background:#111;color:#ddd;margin:0;padding:12px'>"
    ).replace("<head>", "<head><style>@page{size:190mm 80mm;margin:0} pre{font-size:9pt}</style>")
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "m.pdf"
        HTML(string=html).write_pdf(pdf)
        subprocess.run(
            ["pdftoppm", "-png", "-r", "110", "-singlefile", str(pdf), str(IMG / "monitor")],
            check=True,
        )


if __name__ == "__main__":
    main()
