"""`spinecare demo`: what `make run` starts until the web app exists."""

from __future__ import annotations

import typer

from spinecare.cli.app import app


@app.command("demo")
def demo() -> None:
    """Run a short simulated lumbar session in the terminal (simulated table)."""
    typer.echo("spinecare demo: the simulated session arrives with the decompression core.")
