"""Command-line entry point.

Every command module registers itself on ``app`` when imported; ``main`` turns bad input into
one line on stderr and exit status 2, so nothing is started on an invalid argument.

Importing this package loads no command module and no heavy library (numpy, SQLAlchemy, ...):
the root group imports a command's module when that command is resolved, and the modules
import what a command needs inside the command. ``tests/cli/test_startup.py`` keeps it so.
"""

from __future__ import annotations

import sys

import click
import typer

from spinecare.cli.app import app, lazy_command
from spinecare.errors import InputError, describe_validation_error

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
    ("db", "Database schema (Alembic migrations shipped in the package)."),
    ("invoice", "GOÄ fees and invoices."),
    ("documents", "Documents as PDF (German by default)."),
    ("users", "User accounts (roles: physician, therapist, billing, admin)."),
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
)
for _name, _help in _COMMANDS:
    lazy_command(_name, f"spinecare.cli.{_name}", _help)

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
    except click.exceptions.NoArgsIsHelpError as exc:  # a group without its command: its help
        print(exc.format_message(), file=sys.stderr)
        return EXIT_BAD_INPUT
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
    except ValueError as exc:  # pydantic's ValidationError is one; pydantic is imported lazily
        from pydantic import ValidationError

        if isinstance(exc, ValidationError):
            return _fail(describe_validation_error(exc))
        raise
    if isinstance(result, int):
        return result
    return 0


def run() -> None:
    sys.exit(main())


__all__ = ["app", "main", "run"]
