"""The Typer application object; command modules attach themselves to it.

Start-up time matters (``spinecare --help`` and every command pay it), so the root group loads
a command's module only when that command is asked for: ``lazy_command`` names the module and
the one-line help shown by ``spinecare --help`` until then. A module imported eagerly (its
commands registered on ``app`` at import) works as well; it just costs its imports every time.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any

import click
import typer
from typer.core import TyperGroup


@dataclass(frozen=True)
class LazyCommand:
    module: str  # imported on first use; it registers the command on ``app``
    help: str  # what ``spinecare --help`` shows meanwhile (a test compares it with the real one)


LAZY_COMMANDS: dict[str, LazyCommand] = {}


def lazy_command(name: str, module: str, help: str) -> None:
    """Register top-level command ``name``, defined in ``module``, without importing it."""
    LAZY_COMMANDS[name] = LazyCommand(module, help)


class LazyGroup(TyperGroup):
    """The root group: imports a command's module when the command is resolved."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*LAZY_COMMANDS, *(n for n in self.commands if n not in LAZY_COMMANDS)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            importlib.import_module(LAZY_COMMANDS[cmd_name].module)
            # The module registered itself on ``app``; build the click commands from it again.
            built = typer.main.get_command(app)
            if isinstance(built, click.Group):
                for name, cmd in built.commands.items():
                    self.commands.setdefault(name, cmd)
        found = self.commands.get(cmd_name)
        if found is not None:
            bound_integers(found)
            plain_help(found)
        return found

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return click.Group.resolve_command(self, ctx, args)
        except click.UsageError as exc:
            matches = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if not matches:
                raise
            hint = ", ".join(repr(m) for m in matches)
            raise click.UsageError(
                f"{exc.message.rstrip('.')}. Did you mean {hint}?", ctx
            ) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Like click's, but from the registered help for commands not imported yet."""
        rows: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            cmd = self.commands.get(name)
            if cmd is None and name in LAZY_COMMANDS:
                cmd = click.Command(name, help=LAZY_COMMANDS[name].help)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd))
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in rows])


# Whole numbers a database can hold (64-bit signed): an id or count beyond them is refused at
# the edge with the option's name, instead of failing deep in a database driver.
class _Int64(click.IntRange):
    """A whole number within 64 bits; help names it INTEGER, as the bound is no news."""

    name = "integer"


INT64 = _Int64(-(2**63), 2**63 - 1)
INT64_RANGE = f"{-(2**63)}<=x<={2**63 - 1}"
# Random seeds: what numpy's generators accept (0 to 2**32 - 1 for the legacy ones).
SEED = click.IntRange(0, 2**32 - 1)


def bound_integers(cmd: click.Command) -> None:
    """Give every unbounded integer option and argument of ``cmd`` (and its subcommands) the
    64-bit range, and every ``--seed`` the seeds' range (idempotent)."""
    for param in cmd.params:
        if type(param.type) is click.types.IntParamType:
            param.type = SEED if param.name == "seed" else INT64
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            bound_integers(sub)


def _plain_record(record: tuple[str, str] | None) -> tuple[str, str] | None:
    if record is None:
        return None
    names, text = record
    text = text.replace("\\[", "[").replace(f"; {INT64_RANGE}", "").replace(f"[{INT64_RANGE}]", "")
    return names, text.replace(f"{INT64_RANGE}; ", "").replace("  []", "").rstrip()


def plain_help(cmd: click.Command) -> None:
    """Help as a user reads it, for ``cmd`` and its subcommands (idempotent).

    Typer escapes the ``[default: ...]``/``[required]`` note of every parameter for Rich
    markup (``\\[``) whenever Rich is installed, even with ``rich_markup_mode=None``, when
    click's plain formatter prints it as it is; and the 64-bit bound every integer gets
    (:func:`bound_integers`) says nothing to a user. Each parameter's help record is wrapped
    to drop both; ``tests/cli/test_help.py`` reads every command's help.
    """
    for param in cmd.params:
        if getattr(param, "_plain_help", False):
            continue
        original = param.get_help_record

        def record(ctx: click.Context, _orig: Any = original) -> tuple[str, str] | None:
            return _plain_record(_orig(ctx))

        param.get_help_record = record  # type: ignore[method-assign]
        param._plain_help = True  # type: ignore[attr-defined]
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            plain_help(sub)


app = typer.Typer(
    name="spinecare",
    cls=LazyGroup,
    help="Spinal decompression with biofeedback and its clinical pathway (research software).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def _root() -> None:
    """Spinal decompression with biofeedback and its clinical pathway (research software)."""
