"""Hostile input over every CLI command: hypothesis draws options and arguments (control
characters, undecodable bytes, huge and negative numbers, NaN, absurd dates, paths that are
files, directories or nothing), plus the named cases of the issue. For every example:

- no traceback, and an exit status from the README's table (never 70, an internal error);
- a failure is one line ``error: field: reason`` on stderr (or a usage text);
- nothing is stored by a failing command (every table compared before and after);
- nothing printed holds a raw control character.

Every example starts from the same clinic (restored from a template copy): an admin and a
physician logged in, patients (one deleted), a course with a treated session, a draft invoice.
The command tree is read from the CLI itself, so a new command is fuzzed without a change here.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import click
import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.cli.conftest import ADMIN_PASSWORD, create_user, login
from tests.conftest import CLI_PASSWORD

from spinecare.cli import main
from spinecare.cli.app import LAZY_COMMANDS, app
from spinecare.store.text import unsafe_character

Run = Callable[..., tuple[int, str, str]]

# The README's exit statuses; `session run` adds its own three.
DOCUMENTED = frozenset({0, 1, 2, 3, 7, 8, 9, 10, 11})
SESSION = frozenset({4, 5, 6})
# Commands that serve, listen or talk to hardware, or run for minutes by design; their input
# checks run in their own tests.
SKIPPED = {
    ("serve",),
    ("demo",),
    ("table", "serve-sim"),
    ("table", "probe"),
    ("posture", "live"),
}
# Options whose valid values make a command run long: drawn from hostile values or a small one.
SMALL = {
    "--minutes": "0.5",
    "--simulate-days": "1",
    "--hours": "1",
    "--seconds": "1",
    "--progressive-steps": "2",
    "--regressive-steps": "2",
}
FORCED = {("session", "run"): ["--fast", "--device", "simulated"]}
# Stored bookkeeping a failed login is meant to change (the lockout counter).
UNCOMPARED = {"users": {"failed_logins", "locked_until"}}

TODAY = date.today()
TEXTS = [
    "", " ", "0", "1", "-1", "2", "15", "20", "21", "999999999999999999999", "1e309", "NaN",
    "lumbar", "cervical", "thoracic", "L4/5", "C5/6", "L9/10", "F", "M", "X", "f",
    "private", "statutory", "self_payer", "pre", "post", "none",
    "1962-03-14", TODAY.isoformat(), (TODAY + timedelta(days=1)).isoformat(), "2099-01-01",
    "1899-12-31", "0001-01-01", "9999-12-31", "2026-02-30", "14.03.1962", "12:00", "25:61",
    "admin", "doc", "nobody", "ADMIN", "physician", "therapist", "billing",
    "CI-01", "CI-99", "M51.2", "Q", "L1", "T12", "osteoporotic", "femoral_neck",
    "652=2.5", "652=99", "538=", "=", "3,2,1,,2,2,1,0,2,1", "1,2,3", "6,6,6,6,6,6,6,6,6,6",
    "de", "en", "fr", "a" * 300, "\x1b[2J", "Erika\x1b]0;x\x07", "\u202eevil", "\x00",
    "\udcff", "Ren\u00e9e M\u00fcller", "'; DROP TABLE patients;--", "%_%", "../../etc/passwd",
    "--json", "-", "\t", "\n",
]  # fmt: skip
INTS = ["0", "1", "2", "3", "5", "-1", "15", "21", "999999", "99999999999999999999", "1e3",
        "abc", "", "0x10", "\u0663", "2147483648"]  # fmt: skip
FLOATS = ["nan", "inf", "-inf", "-0", "0", "1e308", "1e-320", "70", "80.5", "300", "abc", "",
          "1,5", "-70"]  # fmt: skip
PATHS = ["{ex}/new.pdf", "{ex}", "{ex}/file.txt", "{ex}/missing/x.pdf", "/dev/null", "/", "",
         "{ex}/cli.db", "{ex}/data/credentials.json", "{ex}/junk.json", "{ex}/out-dir",
         "{ex}/new-dir/"]  # fmt: skip
STDINS = ["", "\n", "short\n", f"{CLI_PASSWORD}\n", f"{ADMIN_PASSWORD}\n",
          f"{CLI_PASSWORD}\nanother long password\n", "x\x1b[2J\n"]  # fmt: skip


@dataclass(frozen=True)
class Leaf:
    path: tuple[str, ...]
    command: click.Command

    @property
    def name(self) -> str:
        return " ".join(self.path)


def _leaves() -> list[Leaf]:
    for lazy in LAZY_COMMANDS.values():
        importlib.import_module(lazy.module)
    root = typer.main.get_command(app)

    def walk(cmd: click.Command, path: tuple[str, ...]) -> Iterator[Leaf]:
        if isinstance(cmd, click.Group):
            for name, sub in sorted(cmd.commands.items()):
                yield from walk(sub, (*path, name))
        elif path not in SKIPPED:
            yield Leaf(path, cmd)

    return list(walk(root, ()))


LEAVES = _leaves()


def _values(param: click.Parameter) -> st.SearchStrategy[str]:
    kind = type(param.type).__name__
    if "Int" in kind:
        return st.one_of(st.sampled_from(INTS), st.integers(-(10**6), 10**6).map(str))
    if "Float" in kind:
        return st.one_of(st.sampled_from(FLOATS), st.floats().map(repr))
    if "Path" in kind:
        return st.sampled_from(PATHS)
    if "Choice" in kind:
        choices = [str(c) for c in getattr(param.type, "choices", [])]
        return st.sampled_from([*choices, "bogus", "\x1b"])
    return st.one_of(st.sampled_from(TEXTS), st.text(max_size=12))


@st.composite
def invocations(draw: st.DrawFn, leaf: Leaf) -> tuple[list[str], str]:
    argv: list[str] = [*leaf.path, *FORCED.get(leaf.path, [])]
    for param in leaf.command.params:
        if isinstance(param, click.Argument):
            if param.required or draw(st.booleans()):
                argv.append(draw(_values(param)))
            continue
        assert isinstance(param, click.Option)
        if param.opts[0] in FORCED.get(leaf.path, []) or param.opts[0] in ("--help",):
            continue
        if param.is_flag:
            if draw(st.booleans()):
                argv.append(param.opts[0])
            continue
        if not param.required and not draw(st.integers(0, 2)):  # a third: left out
            continue
        if param.required and draw(st.integers(0, 9)) == 0:  # sometimes: missing
            continue
        for _ in range(draw(st.integers(1, 2)) if param.multiple else 1):
            value = draw(_values(param))
            if param.opts[0] in SMALL and _number(value):
                value = SMALL[param.opts[0]]
            argv += [param.opts[0], value]
    if draw(st.integers(0, 19)) == 0:
        argv.append("--bogus")
    return argv, draw(st.sampled_from(STDINS))


def _number(text: str) -> bool:
    try:
        return float(text) > 0
    except ValueError:
        return False


# --- the clinic every example starts from ---------------------------------------------------


def dump(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        out: dict[str, list[tuple[Any, ...]]] = {}
        for t in sorted(tables):
            cols = [r[1] for r in conn.execute(f'PRAGMA table_info("{t}")')]
            keep = [c for c in cols if c not in UNCOMPARED.get(t, set())]
            select = ", ".join(f'"{c}"' for c in keep)
            out[t] = sorted(conn.execute(f'SELECT {select} FROM "{t}"').fetchall(), key=repr)
        return out
    finally:
        conn.close()


def _mark_run(db: Path, session_id: int) -> None:
    from spinecare.store import open_store
    from spinecare.store.audit import set_actor
    from spinecare.store.models import TreatmentSession

    store = open_store(url=f"sqlite:///{db}")
    try:
        with store.unit_of_work() as s:
            set_actor(s, "doc")
            row = s.get(TreatmentSession, session_id)
            assert row is not None
            length = row.scheduled_end - row.scheduled_start
            row.scheduled_start -= timedelta(days=11)  # it ran yesterday
            row.scheduled_end = row.scheduled_start + length
            row.status = "done"
            row.started_at = row.scheduled_start  # the day it ran: the date of service
    finally:
        store.dispose()


@dataclass
class Clinic:
    work: Path  # SPINECARE_DATA_DIR's parent: data/ and cli.db (the same path for every test)
    template: Path
    cli: Run

    @property
    def db(self) -> Path:
        return self.work / "cli.db"

    def reset(self) -> None:
        shutil.rmtree(self.work)
        shutil.copytree(self.template, self.work)


def _env(work: Path) -> dict[str, str]:
    return {
        "SPINECARE_DATA_DIR": str(work / "data"),
        "SPINECARE_DATABASE_URL": f"sqlite:///{work / 'cli.db'}",
    }


def _direct(*args: str, stdin: str = "") -> tuple[int, str, str]:
    """``spinecare ARGS`` without pytest's capture fixtures (for the session-wide template)."""
    import contextlib
    import io
    import sys

    from spinecare.cli import main

    out, err, old_stdin = io.StringIO(), io.StringIO(), sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        sys.stdin = old_stdin
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="session")
def _clinic_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The clinic, set up once per worker through the CLI as a user would."""
    base = tmp_path_factory.mktemp("hostile")
    work, template = base / "work", base / "template"
    work.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        for var in [v for v in os.environ if v.startswith("SPINECARE_")]:
            mp.delenv(var)
        for var, value in _env(work).items():
            mp.setenv(var, value)
        cli = _direct
        code, out, err = cli("users", "bootstrap", "--json")
        assert code == 0, err
        one_time = json.loads(out)["one_time_password"]
        code, _, err = cli("login", "--username", "admin", "--password-stdin",
                           stdin=f"{one_time}\n{ADMIN_PASSWORD}\n")  # fmt: skip
        assert code == 0, err
        create_user(cli, "doc", "physician")
        login(cli, "doc")
        for name, sex in (("Erika Muster", "F"), ("Max Weg", "M")):
            code, _, err = cli("patients", "add", "--name", name, "--birth-date", "1962-03-14",
                               "--sex", sex, "--weight", "70", "--height", "170",
                               "--insurance", "private")  # fmt: skip
            assert code == 0, err
        code, _, err = cli("patients", "delete", "2")
        assert code == 0, err
        start = (TODAY + timedelta(days=10)).isoformat()
        code, _, err = cli("course", "plan", "--patient", "1", "--region", "lumbar",
                           "--segment", "L4/5", "--start", start)  # fmt: skip
        assert code == 0, err
        _mark_run(work / "cli.db", 1)
        code, _, err = cli("invoice", "create", "--patient", "1", "--session", "1")
        assert code == 0, err
    (work / "file.txt").write_text("not a document\n")
    (work / "junk.json").write_text('{"no": [1, 2,')
    (work / "out-dir").mkdir()
    shutil.copytree(work, template)
    return work, template


@pytest.fixture
def clinic(
    _clinic_template: tuple[Path, Path], cli: Run, monkeypatch: pytest.MonkeyPatch
) -> Clinic:
    work, template = _clinic_template
    for var, value in _env(work).items():
        monkeypatch.setenv(var, value)
    clinic = Clinic(work, template, cli)
    clinic.reset()
    return clinic


def _check(clinic: Clinic, leaf: Leaf, argv: list[str], stdin: str) -> None:
    clinic.reset()
    argv = [a.replace("{ex}", str(clinic.work)) for a in argv]
    before = dump(clinic.db)
    code, out, err = clinic.cli(*argv, stdin=stdin)
    allowed = DOCUMENTED | (SESSION if leaf.path == ("session", "run") else frozenset())
    shown = f"{argv!r} -> {code}: {err[-600:]}"
    assert code in allowed, shown
    assert "Traceback" not in out + err, shown
    for stream in (out, err):
        assert unsafe_character(stream.replace("\n", "").replace("\t", "")) is None, shown
    if code != 0:
        assert err.startswith("Usage:") or (err.startswith("error: ") and err.count("\n") == 1), (
            shown
        )
        assert dump(clinic.db) == before, f"stored although it failed: {shown}"


# Examples per command: a few in every run (CI); SPINECARE_FUZZ_EXAMPLES=60 for a deeper hunt.
EXAMPLES = int(os.environ.get("SPINECARE_FUZZ_EXAMPLES", "6"))


@pytest.mark.parametrize("leaf", LEAVES, ids=[leaf.name for leaf in LEAVES])
def test_hostile_input(clinic: Clinic, leaf: Leaf) -> None:
    @given(call=invocations(leaf))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    def run(call: tuple[list[str], str]) -> None:
        _check(clinic, leaf, *call)

    run()


# --- the named cases ------------------------------------------------------------------------

PATIENT = ["patients", "add", "--birth-date", "1962-03-14", "--sex", "F", "--weight", "70",
           "--height", "165", "--insurance", "private"]  # fmt: skip
YEARS_3 = (TODAY - timedelta(days=3 * 365 + 40)).isoformat()


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        # dates before 1900, in the future, before birth
        (
            [
                "patients",
                "add",
                "--name",
                "A",
                "--birth-date",
                "1899-12-31",
                "--sex",
                "F",
                "--weight",
                "70",
                "--height",
                "165",
                "--insurance",
                "private",
            ],
            "birth_date",
        ),
        (
            [
                "findings",
                "diagnosis",
                "--patient",
                "1",
                "--icd10",
                "M51.2",
                "--text",
                "x",
                "--date",
                "1950-01-01",
            ],
            "diagnosed_on",
        ),
        (
            [
                "findings",
                "fracture",
                "--patient",
                "1",
                "--level",
                "L1",
                "--date",
                "1961-01-01",
                "--kind",
                "osteoporotic",
            ],
            "occurred_on",
        ),
        (
            [
                "findings",
                "bmd",
                "--patient",
                "1",
                "--site",
                "femoral_neck",
                "--date",
                "1899-01-01",
                "--t-score",
                "-2.6",
            ],
            "measured_on",
        ),
        (
            ["findings", "no-fractures", "--patient", "1", "--on", "1950-06-01"],
            "fracture_history_on",
        ),
        # a 3-year-old of 80 kg; a man's menopause
        (
            [
                "patients",
                "add",
                "--name",
                "Kind",
                "--birth-date",
                YEARS_3,
                "--sex",
                "M",
                "--weight",
                "80",
                "--height",
                "100",
                "--insurance",
                "private",
            ],
            "weight_kg",
        ),
        (
            [
                "patients",
                "add",
                "--name",
                "Mann",
                "--birth-date",
                "1962-03-14",
                "--sex",
                "M",
                "--weight",
                "80",
                "--height",
                "180",
                "--insurance",
                "private",
                "--menopausal",
                "pre",
            ],
            "menopausal_status",
        ),
        (
            [
                "bone",
                "classify",
                "--site",
                "femoral_neck",
                "--sex",
                "M",
                "--age",
                "60",
                "--t-score",
                "-2.6",
                "--premenopausal",
            ],
            "--premenopausal",
        ),
        # absurd session counts
        (["invoice", "quote", "--region", "lumbar", "--sessions", "1000000"], "sessions"),
        (["invoice", "quote", "--region", "lumbar", "--sessions", "0"], "sessions"),
        (
            [
                "documents",
                "estimate",
                "--region",
                "lumbar",
                "--sessions",
                "-3",
                "--out",
                "{ex}/e.pdf",
            ],
            "sessions",
        ),
        # invoice dates: 2099, absurd, before the service
        (["invoice", "issue", "1", "--date", "2099-01-01"], "date"),
        (["invoice", "issue", "1", "--date", "0001-01-01"], "date"),
        (["invoice", "issue", "1", "--date", "1962-03-14"], "date"),
        # outcomes for a session not yet run, for a deleted patient's course
        (["outcome", "record", "--session", "2", "--nrs-before", "5"], "session"),
        # control characters in any text field, at the edge
        (["patients", "add", "--name", "Erika\x1b[2J", *PATIENT[2:]], "argument 4"),
        (
            ["findings", "add", "--patient", "1", "--code", "CI-01", "--detail", "x\u202ey"],
            "argument",
        ),
    ],
)
def test_named_states_are_refused_and_nothing_is_stored(
    clinic: Clinic, argv: list[str], field: str
) -> None:
    clinic.reset()
    before = dump(clinic.db)
    argv = [a.replace("{ex}", str(clinic.work)) for a in argv]
    code, out, err = clinic.cli(*argv)
    assert code == 2 and err.startswith(f"error: {field}"), (argv, err)
    assert err.count("\n") == 1 and out == ""
    assert dump(clinic.db) == before


def test_outcomes_for_a_deleted_patients_session(clinic: Clinic) -> None:
    clinic.reset()
    code, _, err = clinic.cli("outcome", "record", "--session", "1", "--nrs-before", "5")
    assert code == 0, err
    code, _, err = clinic.cli("patients", "delete", "1")
    assert code == 0, err
    before = dump(clinic.db)
    code, _, err = clinic.cli("outcome", "record", "--session", "1", "--nrs-after", "3")
    assert code == 2 and "deleted" in err
    code, _, err = clinic.cli("outcome", "record", "--course", "1", "--odi", "1,1,1,1,1,1,1,1,1,1")
    assert code == 2 and "deleted" in err
    assert dump(clinic.db) == before


def test_one_session_directory_attached_to_two_sessions(clinic: Clinic) -> None:
    from tests.cli.test_course_cli import _stored_protocol
    from tests.services.test_screening_courses import _summary

    clinic.reset()
    run_dir = clinic.work / "run1"
    run_dir.mkdir()
    (run_dir / "summary.json").write_text(json.dumps(_summary(_stored_protocol(2),
                                                              completed=True)))  # fmt: skip
    code, _, err = clinic.cli("course", "attach", "--session", "2", "--dir", str(run_dir))
    assert code == 0, err
    before = dump(clinic.db)
    for same in (run_dir, clinic.work / "run1" / ".." / "run1"):
        code, _, err = clinic.cli("course", "attach", "--session", "3", "--dir", str(same))
        assert code == 2 and "already attached to another session" in err, err
    # a copy of the directory is the same run all the same
    import shutil

    copy = shutil.copytree(run_dir, clinic.work / "run1-copy")
    code, _, err = clinic.cli("course", "attach", "--session", "3", "--dir", str(copy))
    assert code == 2 and "holds the same run as session 2" in err, err
    assert dump(clinic.db) == before


def test_an_invoice_dated_2099_never_blocks_payments(clinic: Clinic) -> None:
    clinic.reset()
    code, _, err = clinic.cli("invoice", "issue", "1", "--date", "2099-12-31")
    assert code == 2
    code, out, err = clinic.cli("invoice", "issue", "1", "--json")
    assert code == 0, err
    assert json.loads(out)["number"].startswith(f"{TODAY.year}-")
    code, _, err = clinic.cli("invoice", "pay", "1")
    assert code == 0, err


def test_a_stored_control_character_never_reaches_the_terminal(clinic: Clinic) -> None:
    """A name stored before the check (written straight into the file) is shown escaped."""
    clinic.reset()
    conn = sqlite3.connect(clinic.db)
    conn.execute("UPDATE patients SET name = ? WHERE id = 1", ("Eri\x1b[2Jka\u202e\x9b",))
    conn.commit()
    conn.close()
    for args in (("patients", "list"), ("patients", "show", "1"), ("patients", "list", "--json"),
                 ("invoice", "show", "1"), ("course", "show", "1")):  # fmt: skip
        code, out, err = clinic.cli(*args)
        assert code == 0, err
        assert unsafe_character(out.replace("\n", "")) is None, (args, out)
    code, out, _ = clinic.cli("patients", "list", "--json")
    assert json.loads(out)[0]["name"] == "Eri\x1b[2Jka\u202e\x9b"  # the same value, encoded
    code, out, _ = clinic.cli("patients", "list")
    assert "Eri\\x1b[2Jka\\u202e\\x9b" in out


def test_undecodable_arguments_are_refused(clinic: Clinic) -> None:
    clinic.reset()
    name = os.fsdecode(b"Erika \xff\xfe")
    code, out, err = clinic.cli(*["patients", "add", "--name", name, *PATIENT[2:]])
    assert code == 2 and "argument 4" in err and out == ""


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["segments", "--weight", "80,5", "--force", "300", "--angle", "15"], "80.5 kg"),
        (["bone", "classify", "--site", "femoral_neck", "--sex", "F", "--age", "70",
          "--bmd", "0,62"], "femoral_neck"),
    ],
)  # fmt: skip
def test_numbers_take_the_decimal_comma_as_a_german_clinic_types_them(
    capsys: pytest.CaptureFixture[str], args: list[str], shown: str
) -> None:
    assert main(args) == 0
    assert shown in capsys.readouterr().out


@pytest.mark.parametrize("value", ["\u0668\u0660", "1,5,3", "80 kg", "0x50"])
def test_a_number_in_another_script_or_shape_is_refused_by_name(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    assert main(["segments", "--weight", value, "--force", "300", "--angle", "15"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: weight: ")
