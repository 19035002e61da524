"""`spinecare demo`: what `make run` starts: a complete simulated session to watch."""

from __future__ import annotations

import sys
from typing import Annotated

from spinecare.cli.app import app
from spinecare.cli.output import echo, number_option


@app.command("demo")
def demo(
    speed: Annotated[float, number_option(help="multiple of real time")] = 20.0,
    minutes: Annotated[float, number_option(help="traction time, min")] = 30.0,
) -> None:
    """Watch a complete 30-minute lumbar session on the simulated table (20x real time).

    A virtual 80 kg patient, target segment L4/5, with the live monitor; Ctrl-C is the patient
    stop. The output directory is printed at the end.
    """
    if sys.stdout.isatty():  # the monitor needs a second or two (imports, model set-up)
        echo("spinecare demo: preparing the simulated table and the virtual patient ...")
    from spinecare.cli.session import run

    run(
        region="lumbar",
        weight=80.0,
        segment="L4/5",
        minutes=minutes,
        fast=False,
        speed=speed,
        seed=1,
        emg=True,
        out=None,
        as_json=False,
        table="split",
        angle=None,
        peak=None,
        base=None,
        session_number=1,
        clinician_max=None,
    )
