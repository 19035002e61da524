"""Every command's help reads as plain text: no Rich escapes (``\\[default: ...]``), no 64-bit
bounds, and the default and required notes where click puts them."""

from __future__ import annotations

import click
import pytest

from spinecare.cli import main
from spinecare.cli.app import LAZY_COMMANDS, LazyGroup, app


def _paths() -> list[list[str]]:
    import typer

    root = typer.main.get_command(app)
    assert isinstance(root, LazyGroup)
    ctx = click.Context(root)
    out: list[list[str]] = []

    def walk(cmd: click.Command, path: list[str]) -> None:
        out.append(path)
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])

    for name in LAZY_COMMANDS:
        cmd = root.get_command(ctx, name)
        assert cmd is not None, name
        walk(cmd, [name])
    return out


def test_every_help_is_plain(capsys: pytest.CaptureFixture[str]) -> None:
    paths = _paths()
    assert len(paths) > 60  # every command of every module
    for path in paths:
        assert main([*path, "--help"]) == 0, path
        out = capsys.readouterr().out
        assert "\\[" not in out and "-9223372036854775808" not in out, (path, out)
    main(["course", "plan", "--help"])
    out = capsys.readouterr().out
    assert "[default: 15]" in out and "[required]" in out and "--patient INTEGER " in out


def test_a_missing_option_or_argument_says_what_to_give(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["findings", "no-fractures", "--patient", "1"]) == 2
    err = capsys.readouterr().err
    assert "--date: missing: give --date" in err and "spinecare findings no-fractures --help" in err
    assert main(["invoice", "issue"]) == 2
    assert "INVOICE_ID: missing" in capsys.readouterr().err


def test_no_message_shows_a_secret_or_a_repr() -> None:
    """A short password is refused by name and reason; neither the password nor its masked
    ``SecretStr('**********')`` is shown, nor any object's repr."""
    from pydantic import BaseModel, Field, SecretStr, ValidationError

    from spinecare.errors import InputError, describe_validation_error

    class Form(BaseModel):
        password: SecretStr = Field(min_length=8)
        secret: SecretStr

    with pytest.raises(ValidationError) as info:
        Form.model_validate({"password": SecretStr("short"), "secret": "x"})
    text = describe_validation_error(info.value)
    assert text.startswith("password:") and "SecretStr" not in text and "short" not in text
    assert "*" not in str(InputError("new password", "too short", "hunter2x"))
    assert "hunter2x" not in str(InputError("password", "too short", "hunter2x"))
    assert "object at 0x" not in str(InputError("x", "bad", object()))
    assert str(InputError("age", "0-120", 130)) == "age: 0-120 (got 130)"


def test_short_password_on_the_cli(cli_admin: object) -> None:
    run = cli_admin  # type: ignore[assignment]
    code, _, err = run("users", "create", "--username", "xyz", "--role", "therapist",  # type: ignore[operator]
                       "--password-stdin", stdin="short\n")  # fmt: skip
    assert code == 2 and "password" in err and "SecretStr" not in err and "short" not in err
