"""What the CLI prints: texts with control characters shown escaped, JSON with them encoded.

Every command prints through :func:`echo`, :func:`print_json` and :func:`error`, so a stored
text (a patient name from before control characters were refused, a file's content) never
reaches a terminal raw: ``ESC [ 2 J`` in a name is shown as ``\\x1b[2J``, not obeyed.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import sys
from collections.abc import Callable
from typing import Any

import click
import typer

from spinecare.store.text import json_printable, printable


def echo(text: object = "") -> None:
    typer.echo(printable(str(text)))


def error(message: str) -> None:
    """One line on stderr: ``error: <message>`` (newlines in it flattened)."""
    line = printable(str(message).replace("\n", " "), keep_newlines=False)
    print(f"error: {line}", file=sys.stderr)


def note(message: str) -> None:
    """A remark on stderr that is not an error (e.g. where a backup was written)."""
    print(printable(str(message).replace("\n", " "), keep_newlines=False), file=sys.stderr)


def print_json(data: Any) -> None:
    from pydantic import BaseModel

    if isinstance(data, BaseModel):
        value: Any = data.model_dump(mode="json")
    elif isinstance(data, list) and all(isinstance(d, BaseModel) for d in data):
        value = [d.model_dump(mode="json") for d in data]
    else:
        value = data
    text = json.dumps(value, indent=2, default=str, ensure_ascii=False)
    typer.echo(json_printable(text))


def guard_echo() -> Callable[[], None]:
    """Route every ``typer.echo``/``click.echo`` of any command (this package's modules call
    them by attribute) through the escaping of unsafe characters for as long as the CLI runs;
    returns the function that puts the originals back. Escapes are ``\\uXXXX``, which is the
    same value in JSON text and readable in plain text. The live monitor (rich) does not print
    through these, so its own terminal control is untouched."""
    original = click.echo

    def safe_echo(message: Any = None, *args: Any, **kwargs: Any) -> None:
        if isinstance(message, str):
            message = json_printable(message)
        original(message, *args, **kwargs)

    saved = (typer.echo, click.echo, click.utils.echo)
    typer.echo = click.echo = click.utils.echo = safe_echo

    def restore() -> None:
        typer.echo, click.echo, click.utils.echo = saved

    return restore


# One name for a date across commands: ``--date``. ``--on``, which some commands used, still
# works (hidden) so that existing scripts keep running.
ON_ALIAS = typer.Option(None, "--on", hidden=True, help="the same as --date (older name)")


def day_parse(text: str, field: str) -> _dt.date:
    """A date option as the clinic types it: ``2026-12-01`` or ``01.12.2026`` (the one reader,
    ``services.patients.day_field``); an empty one is refused like any other bad date."""
    from spinecare.errors import InputError
    from spinecare.services.patients import day_field

    day = day_field(text, field)
    if day is None:
        raise InputError(field, "expected a date as YYYY-MM-DD or DD.MM.YYYY", text)
    return day


def date_option(date: str | None, on: str | None) -> str | None:
    """The date given as ``--date`` or as its older name ``--on`` (not both)."""
    if date is not None and on is not None and date != on:
        from spinecare.errors import InputError

        raise InputError("--date", "given twice (--date and --on): give it once, as --date")
    return date if date is not None else on


class DecimalNumber(click.ParamType[float, Any]):
    """A number as a German clinic types it: ``80.5`` or ``80,5``. The decimal comma was taken
    by ``--weight`` (which the records' schema reads) but refused by every other number option;
    digits other than 0-9 (which Python's float() also reads) are refused."""

    name = "number"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            return value
        text = str(value).strip()
        if text.isascii() and _DECIMAL_COMMA.fullmatch(text):
            text = text.replace(",", ".")
        try:
            if not text.isascii():
                raise ValueError(text)
            return float(text)
        except ValueError:
            self.fail(f"{value!r} is not a number (write it like 80.5 or 80,5)", param, ctx)


_DECIMAL_COMMA = re.compile(r"[+-]?[0-9]*,[0-9]+")
NUMBER = DecimalNumber()


def number_option(*args: Any, **kwargs: Any) -> Any:
    """``typer.Option`` for a float that also takes the decimal comma."""
    return typer.Option(*args, click_type=NUMBER, **kwargs)
