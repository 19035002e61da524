"""Command-line entry point.

Every command module registers itself on ``app``; ``main`` turns bad input into one line on
stderr and exit status 2, so nothing is started on an invalid argument.
"""

from __future__ import annotations

import sys

import click
import typer
from pydantic import ValidationError

from spinecare.cli.app import app
from spinecare.errors import InputError, describe_validation_error

# Command modules: importing one registers its commands on ``app``.
from spinecare.cli import demo as _demo  # noqa: F401  isort: skip
from spinecare.cli import invoice as _invoice  # noqa: F401  isort: skip
from spinecare.cli import documents as _documents  # noqa: F401  isort: skip
from spinecare.cli import info as _info  # noqa: F401  isort: skip
from spinecare.cli import db as _db  # noqa: F401  isort: skip
from spinecare.cli import users as _users  # noqa: F401  isort: skip
from spinecare.cli import patients as _patients  # noqa: F401  isort: skip
from spinecare.cli import course as _course  # noqa: F401  isort: skip
from spinecare.cli import outcome as _outcome  # noqa: F401  isort: skip
from spinecare.cli import bone as _bone  # noqa: F401  isort: skip
from spinecare.cli import screen as _screen  # noqa: F401  isort: skip
from spinecare.cli import session as _session  # noqa: F401  isort: skip
from spinecare.cli import segments as _segments  # noqa: F401  isort: skip
from spinecare.cli import findings as _findings  # noqa: F401  isort: skip

EXIT_BAD_INPUT = 2


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the process exit status (also used by tests)."""
    try:
        command = typer.main.get_command(app)
        result = command.main(args=argv, prog_name="spinecare", standalone_mode=False)
    except InputError as exc:
        return _fail(str(exc))
    except ValidationError as exc:
        return _fail(describe_validation_error(exc))
    except click.exceptions.NoSuchOption as exc:
        return _fail(exc.format_message())
    except click.exceptions.BadParameter as exc:
        name = exc.param.name if exc.param is not None and exc.param.name else "argument"
        return _fail(f"{name}: {exc.message}")
    except click.exceptions.MissingParameter as exc:
        name = exc.param.name if exc.param is not None and exc.param.name else "argument"
        return _fail(f"{name}: missing")
    except click.exceptions.UsageError as exc:
        return _fail(exc.format_message())
    except click.exceptions.Abort:
        return 130
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    if isinstance(result, int):
        return result
    return 0


def run() -> None:
    sys.exit(main())


__all__ = ["app", "main", "run"]
