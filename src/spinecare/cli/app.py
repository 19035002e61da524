"""The Typer application object; command modules attach themselves to it."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="spinecare",
    help="Spinal decompression with biofeedback and its clinical pathway (research software).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def _root() -> None:
    """Spinal decompression with biofeedback and its clinical pathway (research software)."""
