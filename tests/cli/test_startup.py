"""Start-up structure: what the CLI imports before it does anything (timings: bench/b4_startup).

``spinecare --help`` and every command pay for the imports of ``spinecare.cli``; the heavy
libraries belong to the commands that use them. Each check runs in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer

from spinecare.cli import main
from spinecare.cli.app import LAZY_COMMANDS, app

HEAVY = {"numpy", "scipy", "numba", "matplotlib", "sqlalchemy", "alembic", "weasyprint"}
BONE_ARGS = ["--site", "total_hip", "--sex", "M", "--age", "70", "--t-score", "-2.6", "--json"]


def _imported_after(code: str, tmp_path: Path) -> set[str]:
    """Top-level packages and ``spinecare.*`` modules loaded by ``code`` in a new interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("SPINECARE_")},
            "SPINECARE_DATA_DIR": str(tmp_path),
        },
        timeout=120,
    ).stdout
    names: list[str] = json.loads(out.strip().splitlines()[-1])
    return {n.split(".")[0] for n in names} | {n for n in names if n.startswith("spinecare.")}


def test_importing_the_cli_loads_no_heavy_library(tmp_path: Path) -> None:
    loaded = _imported_after("import spinecare.cli", tmp_path)
    assert not loaded & (HEAVY | {"pydantic", "rich"})


def test_help_loads_no_command_module(tmp_path: Path) -> None:
    code = (
        "import contextlib, io\nfrom spinecare.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n    assert main(['--help']) == 0"
    )
    loaded = _imported_after(code, tmp_path)
    assert not loaded & HEAVY
    assert not {f"spinecare.cli.{name}" for name in LAZY_COMMANDS} & loaded


@pytest.mark.parametrize(
    ("argv", "unwanted", "status"),
    [
        (["info", "--json"], HEAVY - {"sqlalchemy"}, 0),  # the settings check database URLs
        # not logged in (7), after opening the database and looking for the login
        (["patients", "list", "--json"], HEAVY - {"sqlalchemy", "alembic"}, 7),
        (["bone", "classify", *BONE_ARGS], HEAVY - {"numpy"}, 0),
    ],
)
def test_a_read_command_loads_only_what_it_needs(
    tmp_path: Path, argv: list[str], unwanted: set[str], status: int
) -> None:
    code = (
        "import contextlib, io\nfrom spinecare.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):"
        f"\n    assert main({argv!r}) == {status}"
    )
    assert not _imported_after(code, tmp_path) & unwanted


def test_root_help_shows_each_command_s_own_help(capsys: pytest.CaptureFixture[str]) -> None:
    """The help registered for a lazily loaded command is the one the command itself has."""
    assert main(["--help"]) == 0
    listed = capsys.readouterr().out
    root = typer.main.get_command(app)
    assert isinstance(root, click.Group)
    ctx = click.Context(root)
    for name, entry in LAZY_COMMANDS.items():
        assert f"  {name} " in listed
        cmd = root.get_command(ctx, name)
        assert cmd is not None, f"{entry.module} does not register {name!r}"
        shown = click.Command(name, help=entry.help).get_short_help_str(200)
        assert cmd.get_short_help_str(200) == shown, name


def test_no_command_shows_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Usage: spinecare") and "  patients " in err


def test_a_mistyped_command_gets_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pateints", "list"]) == 2
    assert "Did you mean 'patients'?" in capsys.readouterr().err


def test_no_numba_kernel_compiles_at_import_and_each_is_cached(tmp_path: Path) -> None:
    """Kernels compile (or load from numba's on-disk cache) at their first call, never at import:
    the demo's first frame and a session's first tick must not wait for an import."""
    code = """
import gc, importlib, json, pkgutil, spinecare
for m in pkgutil.walk_packages(spinecare.__path__, "spinecare."):
    if not m.name.endswith("__main__") and ".migrations" not in m.name:
        importlib.import_module(m.name)
from numba.core.registry import CPUDispatcher
found = [
    [f"{d.py_func.__module__}.{d.py_func.__name__}", len(d.signatures), type(d._cache).__name__]
    for d in gc.get_objects() if isinstance(d, CPUDispatcher)
]
print(json.dumps(found))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    ).stdout
    kernels = json.loads(out.strip().splitlines()[-1])
    assert kernels, "no numba kernel found: has the simulator stopped using numba?"
    assert [k for k in kernels if k[1] != 0] == []  # compiled at import
    assert [k for k in kernels if k[2] == "NullCache"] == []  # njit without cache=True
