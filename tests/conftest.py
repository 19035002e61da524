"""Shared fixtures: isolated settings, databases on SQLite and on a throwaway PostgreSQL cluster.

PostgreSQL: each pytest(-xdist) worker starts its own cluster from Debian's binaries
(/usr/lib/postgresql/*/bin) in a temporary directory, listening on 127.0.0.1 on a free port with
its unix socket in that directory, and stops it by pid at the end of the session. Every test that
asks for ``db_url`` runs twice, on SQLite and on a fresh PostgreSQL database.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

PG_GLOB = "/usr/lib/postgresql/*/bin"
PG_SUPERUSER = "postgres"


def _pg_bindir() -> Path | None:
    def version(path: str) -> int:
        part = Path(path).parent.name
        return int(part) if part.isdigit() else 0

    candidates = [p for p in glob.glob(PG_GLOB) if Path(p, "initdb").exists()]
    return Path(max(candidates, key=version)) if candidates else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: drop to the postgres account when root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", PG_SUPERUSER, "--", *cmd]
    return cmd


def _stop_by_pid(datadir: Path, pid: int | None) -> None:
    if pid is None:
        pidfile = datadir / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pidfile.read_text().splitlines()[0])
    if pid is None:
        return
    # SIGQUIT = PostgreSQL "immediate" shutdown (the data is thrown away anyway); escalate to
    # SIGKILL if it lingers.
    for sig, wait_s in ((signal.SIGQUIT, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Base URL (no database) of this worker's private PostgreSQL cluster."""
    bindir = _pg_bindir()
    if bindir is None:
        reason = (
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin "
            "(run scripts/ensure-system-deps.sh or apt-get install postgresql)"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    root = Path(tempfile.mkdtemp(prefix=f"spinecare-pg-{worker}-"))
    root.chmod(0o755)  # the postgres account must reach its data directory
    datadir = root / "data"
    datadir.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, PG_SUPERUSER)
        shutil.chown(datadir, PG_SUPERUSER)
    port = _free_port()
    pid: int | None = None
    try:
        subprocess.run(
            _as_postgres(
                [
                    str(bindir / "initdb"),
                    "-D", str(datadir),
                    "-U", PG_SUPERUSER,
                    "-A", "trust",
                    "-E", "UTF8",
                    "--no-locale",
                    "--no-sync",
                ]
            ),
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        options = (
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        subprocess.run(
            _as_postgres(
                [
                    str(bindir / "pg_ctl"),
                    "-D", str(datadir),
                    "-o", options,
                    "-l", str(root / "server.log"),
                    "-w", "-t", "60",
                    "start",
                ]
            ),
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        pid = int((datadir / "postmaster.pid").read_text().splitlines()[0])
        yield f"postgresql+psycopg://{PG_SUPERUSER}@127.0.0.1:{port}"
    except subprocess.CalledProcessError as exc:
        log = root / "server.log"
        tail = log.read_text()[-2000:] if log.exists() else ""
        pytest.fail(f"could not start PostgreSQL: {exc.stderr or exc}\n{tail}")
    finally:
        _stop_by_pid(datadir, pid)
        shutil.rmtree(root, ignore_errors=True)


_db_counter = itertools.count(1)


def create_postgres_database(server_url: str, template: str | None = None) -> str:
    """A new database on the test cluster (empty, or a copy of ``template``); returns its URL."""
    import psycopg

    name = f"t{os.getpid()}_{next(_db_counter)}"
    conninfo = server_url.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        # names are generated here, never user input
        suffix = f' TEMPLATE "{template}"' if template else ""
        conn.execute(f'CREATE DATABASE "{name}"{suffix}')
    return f"{server_url}/{name}"


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """Full-cost argon2 takes ~0.5 s per hash; tests use the library's CHEAPEST profile."""
    from argon2 import PasswordHasher
    from argon2.profiles import CHEAPEST

    from spinecare.services import users

    previous = users.use_password_hasher(PasswordHasher.from_parameters(CHEAPEST))
    yield
    users.use_password_hasher(previous)


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's environment or writes into their data directory."""
    for var in list(os.environ):
        if var.startswith("SPINECARE_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("SPINECARE_DATA_DIR", str(tmp_path / "spinecare-data"))


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of a fresh, empty database (not migrated) on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    server = request.getfixturevalue("postgres_server")
    return create_postgres_database(server)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per worker; tests get copies."""
    from spinecare.store import open_store

    path = tmp_path_factory.mktemp("template") / "template.db"
    open_store(url=f"sqlite:///{path}").dispose()
    return path


@pytest.fixture(scope="session")
def _postgres_template(postgres_server: str) -> str:
    """A PostgreSQL database migrated to head once per worker; tests clone it."""
    from spinecare.store import open_store

    url = create_postgres_database(postgres_server)
    open_store(url=url).dispose()  # no connection may stay open on a template
    return url.rsplit("/", 1)[1]


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def migrated_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of a fresh database already at the newest migration, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        return f"sqlite:///{path}"
    server = request.getfixturevalue("postgres_server")
    return create_postgres_database(server, template=request.getfixturevalue("_postgres_template"))


@pytest.fixture
def store(migrated_db_url: str) -> Iterator[object]:
    """A migrated store on each backend."""
    from spinecare.store import open_store

    st = open_store(url=migrated_db_url)
    try:
        yield st
    finally:
        st.dispose()


@pytest.fixture
def sqlite_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Point the settings (and so the CLI) at a fresh SQLite file; returns its URL."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("SPINECARE_DATABASE_URL", url)
    return url


CLI_PASSWORD = "a long test password"


@pytest.fixture
def cli(
    sqlite_env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, str, str]]:
    """Run ``spinecare ARGS`` against a fresh SQLite database: returns (status, stdout, stderr).

    ``stdin=`` feeds standard input (e.g. a password for ``--password-stdin``).
    """
    import io
    import sys

    from spinecare.cli import main

    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        capsys.readouterr()
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


# -- Modbus RTU over a pseudo-terminal pair (tests/devices, tests/web) --------------------------
@pytest.fixture
def rtu_pair(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two linked pseudo-terminals (socat), the relay at the table's real-time priority: a
    serial line is wire, and on a busy machine a relay at normal priority is late enough for
    the freshness check (a correct fault, but not what this test is about)."""
    socat = shutil.which("socat")
    if socat is None:
        reason = "socat not installed (scripts/ensure-system-deps.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    a, b = str(tmp_path / "ttyTABLE"), str(tmp_path / "ttyPC")
    proc = subprocess.Popen(
        [socat, f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with contextlib.suppress(OSError, AttributeError):
            os.sched_setscheduler(proc.pid, os.SCHED_FIFO, os.sched_param(41))
        deadline = time.monotonic() + 5.0
        while not (os.path.exists(a) and os.path.exists(b)):
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("socat did not create the pseudo-terminal pair")
            time.sleep(0.02)
        yield a, b
    finally:
        proc.terminate()
        proc.wait(5)
