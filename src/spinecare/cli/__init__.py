"""Command-line entry point.

Every command module registers itself on ``app`` when imported; ``main`` turns every error a
command lets through into one line on stderr and a documented exit status (``cli/errors.py``,
the README's "Exit statuses"): bad input 2, nothing started; a database or disk fault in words,
never a traceback or a patient's data. Arguments holding control characters are refused before
any command runs, and files are created readable by their owner only (umask 077).

Importing this package loads no command module and no heavy library (numpy, SQLAlchemy, ...):
the root group imports a command's module when that command is resolved, and the modules
import what a command needs inside the command. ``tests/cli/test_startup.py`` keeps it so.
"""

from __future__ import annotations

import os
import sys

import click
import typer

from spinecare.cli.app import app, lazy_command
from spinecare.cli.errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    describe,
    missing_parameter,
)
from spinecare.cli.output import error, guard_echo
from spinecare.store.text import unsafe_character

# Command modules ``spinecare.cli.<name>``, in the order ``spinecare --help`` lists them, each
# with the one-line help shown there (it must match the command's own; test_startup compares).
# A new module goes in here; an eager import line (``from spinecare.cli import NAME as _NAME``)
# also works but then every command pays for that module's imports.
_COMMANDS: tuple[tuple[str, str], ...] = (
    ("demo", "Watch a complete 30-minute lumbar session on the simulated table (20x real time)."),
    ("info", "Version, database (password masked), data directories, device."),
    ("screen", "Screen a patient for decompression contraindications (seed list CI-01..CI-13)."),
    (
        "segments",
        "Estimate the axial (distraction) and shear force at each segment (model, not measured).",
    ),
    ("db", "Database: schema migrations, backup and restore."),
    ("invoice", "GOÄ fees and invoices."),
    ("documents", "Documents as PDF (German by default)."),
    ("users", "User accounts (roles: physician, therapist, billing, admin)."),
    ("audit", "The audit log: verify its hash chain."),
    ("patients", "Patients: register, find, show, edit, delete (soft)."),
    ("course", "Treatment courses: plan (prescribe and book), show, attach results."),
    ("outcome", "Patient-reported outcomes: pain NRS, Oswestry Disability Index."),
    ("bone", "Bone density assessment (DXA)."),
    ("session", "Run decompression sessions."),
    ("findings", "Findings screening reads: contraindication items, diagnoses, DXA, fractures."),
    ("emg", "Surface EMG: replay the guarding detector over a recording."),
    ("table", "Traction tables on Modbus: serve the simulated table, probe a table."),
    ("export", "Open data: a session as CSV/JSON, a course as one archive, a patient as FHIR R4B."),
    ("import", "Import data: DXA results (FHIR or CSV)."),
    ("serve", "Run the clinic web app (browser pages, live monitor, REST API under /api/v1)."),
    (
        "orthosis",
        "Orthosis pathway: prescribe, fit, follow-ups against the trials, osteoporosis follow-up.",
    ),
    (
        "posture",
        "Posture sensor on the upper back: analyse, simulate, stream live, record, summarise.",
    ),
    ("cohort", "Virtual cohort: verify a protocol on simulated patients (one machine or Dask)."),
)
for _name, _help in _COMMANDS:
    lazy_command(_name, f"spinecare.cli.{_name}", _help)
# Logging in and out: four commands of one module.
for _name, _help in (
    ("login", "Log in to the clinic database (a token that expires, readable by you only)."),
    ("logout", "Log out: end the login in the database and forget its token."),
    ("passwd", "Change your password (a one-time password first of all); your other logins end."),
    ("whoami", "Show who you act as, and until when."),
):
    lazy_command(_name, "spinecare.cli.login", _help)

# Files the CLI creates (database, logins, session recordings, PDFs, backups): owner only.
PRIVATE_UMASK = 0o077


def _fail(message: str, status: int = EXIT_BAD_INPUT) -> int:
    error(message)
    return status


def _unsafe_argument(args: list[str]) -> str | None:
    """Why an argument is refused before any command runs (control characters, bytes that
    are not UTF-8), or None."""
    for i, arg in enumerate(args, start=1):
        bad = unsafe_character(arg)
        if bad is not None:
            return f"argument {i}: control or formatting characters are not allowed ({bad})"
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the process exit status (also used by tests)."""
    previous = os.umask(PRIVATE_UMASK)
    restore_echo = guard_echo()
    try:
        return _main(sys.argv[1:] if argv is None else list(argv))
    finally:
        restore_echo()
        os.umask(previous)


def _main(argv: list[str]) -> int:
    bad = _unsafe_argument(argv)
    if bad is not None:
        return _fail(bad)
    try:
        command = typer.main.get_command(app)
        result = command.main(args=argv, prog_name="spinecare", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:  # a group without its command: its help
        print(exc.format_message(), file=sys.stderr)
        return EXIT_BAD_INPUT
    except click.exceptions.NoSuchOption as exc:
        return _fail(exc.format_message())
    except click.exceptions.MissingParameter as exc:  # a BadParameter: caught first
        return _fail(missing_parameter(exc))
    except click.exceptions.BadParameter as exc:
        name = exc.param.name if exc.param is not None and exc.param.name else "argument"
        return _fail(f"{name}: {exc.message}")
    except click.exceptions.UsageError as exc:
        return _fail(exc.format_message())
    except click.exceptions.Abort:
        return EXIT_INTERRUPTED
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:
        described = describe(exc)
        if described is not None:
            return _fail(described[1], described[0])
        if os.environ.get("SPINECARE_DEBUG"):
            raise
        # A defect: say so without the exception's text (it may hold a patient's data).
        return _fail(
            f"internal error ({type(exc).__name__}); the command did not finish. Run again "
            "with SPINECARE_DEBUG=1 for the details and report them",
            EXIT_INTERNAL,
        )
    if isinstance(result, int):
        return result
    return 0


def run() -> None:
    sys.exit(main())


__all__ = ["app", "main", "run"]
