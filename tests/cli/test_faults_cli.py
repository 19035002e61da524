"""Faults of the database and the disk, as a user meets them: one line saying what happened and
what to do, the documented exit status, no traceback, no patient data, nothing half-done.

Permission faults need a process without root's override of file permissions: when the tests
run as root, the child process drops CAP_DAC_OVERRIDE (and friends) from its capability
bounding set before it starts, so a 0400 file is read-only for it as for anyone. A full disk is
a file-size limit (RLIMIT_FSIZE) on the child.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

Run = Callable[..., tuple[int, str, str]]
NAME = "Erika Geheimname"  # must never appear in an error message
ADD = (
    "patients", "add", "--name", NAME, "--birth-date", "1962-03-14", "--sex", "F",
    "--weight", "70", "--height", "165", "--insurance", "private",
)  # fmt: skip
PR_CAPBSET_DROP = 24
# CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER (linux/capability.h)
DAC_CAPS = (1, 2, 3)


def _db() -> Path:
    return Path(os.environ["SPINECARE_DATABASE_URL"].removeprefix("sqlite:///"))


def _patients() -> int:
    conn = sqlite3.connect(f"{_db().as_uri()}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM patients").fetchone()[0])
    finally:
        conn.close()


def child(
    *args: str, stdin: str = "", no_root_override: bool = False, max_file_bytes: int | None = None
) -> subprocess.CompletedProcess[str]:
    """``spinecare ARGS`` in a process of its own, with the test's environment."""

    def limits() -> None:
        if max_file_bytes is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a dead process
            resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))
        if no_root_override and os.geteuid() == 0:
            libc = ctypes.CDLL(None, use_errno=True)
            for cap in DAC_CAPS:
                if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                    raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")

    return subprocess.run(
        [sys.executable, "-m", "spinecare.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=dict(os.environ),
        preexec_fn=limits,
        timeout=120,
        check=False,
    )


def _one_clear_line(err: str) -> None:
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and NAME not in err and "INSERT" not in err


def test_a_locked_database_says_busy_and_stores_nothing(
    cli_doc: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    import spinecare.store.engine as engine

    monkeypatch.setattr(engine, "LOCK_TIMEOUT_MS", 200)  # the real 5 s: the slow test below
    other = sqlite3.connect(_db(), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the database
    try:
        code, out, err = cli_doc(*ADD)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert code == 8 and "busy" in err and "try again" in err and out == ""
    _one_clear_line(err)
    assert _patients() == 0


@pytest.mark.slow
def test_a_database_locked_for_more_than_5_s(cli_doc: Run) -> None:
    other = sqlite3.connect(_db(), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    t0 = time.monotonic()
    try:
        code, _, err = cli_doc(*ADD)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert code == 8 and time.monotonic() - t0 >= 5.0
    _one_clear_line(err)


def test_a_read_only_database(cli_doc: Run) -> None:
    code, _, err = cli_doc(*ADD, "--name", "Vorher")
    assert code == 0, err
    _db().chmod(0o400)
    try:
        done = child(*ADD, no_root_override=True)
        assert done.returncode == 9 and "read-only" in done.stderr, done.stderr
        _one_clear_line(done.stderr)
        assert _patients() == 1
        # reading still works
        done = child("patients", "list", "--json", no_root_override=True)
        assert done.returncode == 0 and json.loads(done.stdout)[0]["name"] == "Vorher"
    finally:
        _db().chmod(0o600)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "text"])
def test_a_corrupt_database(cli_doc: Run, damage: str) -> None:
    code, _, err = cli_doc(*ADD)
    assert code == 0, err
    data = _db().read_bytes()
    if damage == "garbage":
        _db().write_bytes(b"\xde\xad\xbe\xef" * 25 + data[100:])
    elif damage == "truncated":
        _db().write_bytes(data[: len(data) // 3])
    else:
        _db().write_text(f"{NAME}\n" * 100)
    for args in (("patients", "list"), ADD, ("db", "current")):
        code, out, err = cli_doc(*args)
        assert code == 9 and ("damaged" in err or "not a spinecare" in err), (damage, args, err)
        _one_clear_line(err)
        assert out == ""


def test_an_unreachable_postgresql(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    monkeypatch.setenv(
        "SPINECARE_DATABASE_URL", f"postgresql+psycopg://clinic:s3cret@127.0.0.1:{port}/sc"
    )
    for args in (("patients", "list"), ADD, ("db", "current"), ("users", "bootstrap")):
        code, _out, err = cli(*args)
        assert code == 8 and "cannot reach" in err and "s3cret" not in err, (args, err)
        _one_clear_line(err)


def test_an_unwritable_output_directory(cli_doc: Run, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        for args in (
            ("documents", "consent", "--region", "lumbar", "--out", str(locked / "c.pdf")),
            ("session", "run", "--fast", "--minutes", "1", "--out", str(locked / "s1")),
            ("db", "backup", str(locked / "b.db"), "--as", "admin"),
        ):
            done = child(*args, no_root_override=True)
            assert done.returncode == 10 and "permission denied" in done.stderr, (args, done)
            _one_clear_line(done.stderr)
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_a_full_disk_for_documents_and_backups(cli_doc: Run, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    done = child(
        "documents", "consent", "--region", "lumbar", "--out", str(out / "c.pdf"),
        max_file_bytes=4096,
    )  # fmt: skip
    assert done.returncode == 10, done.stderr
    _one_clear_line(done.stderr)
    done = child("db", "backup", str(out / "b.db"), "--as", "admin", max_file_bytes=8192)
    assert done.returncode == 10 and "disk" in done.stderr, done.stderr
    _one_clear_line(done.stderr)
    assert list(out.iterdir()) == []  # no half-written PDF or backup, no temporary file


def test_a_full_disk_for_every_other_file_a_command_writes(cli_doc: Run, tmp_path: Path) -> None:
    """Charts, exports and simulated recordings: status 10 naming the file asked for (a full
    disk's write names none), and nothing of it left, however many files the command writes."""
    code, _, err = cli_doc(*ADD)
    assert code == 0, err
    out = tmp_path / "out"
    out.mkdir()
    curve = ("session", "curve", "--region", "lumbar", "--weight", "70", "--segment", "L4/5")
    emg = ("emg", "detect", "tests/data/emg-real-1khz.txt", "--rate", "1000")
    # matplotlib's font cache and numba's compiled kernels first (a changed source makes every
    # kernel compile again, and its cache file is a write too)
    for warm in ((*emg, "--plot", str(tmp_path / "warm.png")),
                 (*curve, "--png", str(tmp_path / "warm-c.png"))):  # fmt: skip
        done = child(*warm)
        assert done.returncode == 0, done.stderr
    for args, named in (
        ((*curve, "--png", str(out / "c.png")), out / "c.png"),
        ((*emg, "--plot", str(out / "e.png")), out / "e.png"),
        (("posture", "simulate", "--out", str(out / "p.csv"), "--minutes", "2"), out / "p.csv"),
        (("export", "patient", "1", "--out", str(out / "new" / "p.json")), out / "new" / "p.json"),
    ):
        done = child(*args, max_file_bytes=256)
        assert done.returncode == 10 and f"{named}: " in done.stderr, (args, done.stderr)
        _one_clear_line(done.stderr)
        assert list(out.iterdir()) == [], args


def test_a_full_disk_under_the_database(cli_doc: Run) -> None:
    before = _patients()
    done = child(*ADD, max_file_bytes=512)  # the journal cannot be written
    assert done.returncode == 9 and "disk" in done.stderr, done.stderr
    _one_clear_line(done.stderr)
    assert _patients() == before


def test_out_naming_a_file_or_a_directory(cli_doc: Run, tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for args, field in (
        (("session", "run", "--fast", "--minutes", "1", "--out", str(a_file)), str(a_file)),
        (("session", "run", "--fast", "--minutes", "1", "--out", str(a_file / "s")), "file"),
        (("documents", "consent", "--region", "lumbar", "--out", str(tmp_path)), "directory"),
        (("documents", "consent", "--region", "lumbar", "--out", str(a_file / "x.pdf")), "out"),
        (("db", "backup", str(a_file), "--as", "admin"), "exists"),
        (("db", "backup", str(tmp_path), "--as", "admin"), "exists"),
    ):
        code, _out, err = cli_doc(*args)
        assert code == 2 and field in err, (args, err)
        _one_clear_line(err)
    assert a_file.read_text() == "x"


def test_files_holding_patient_data_are_owner_only_whatever_the_umask(
    cli_doc: Run, tmp_path: Path
) -> None:
    import stat

    from spinecare.runtime.recorder import Recorder

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    data = Path(os.environ["SPINECARE_DATA_DIR"])
    assert mode(data) == 0o700 and mode(_db()) == 0o600
    assert mode(data / "credentials.json") == 0o600
    old = os.umask(0o022)  # a library caller that did not set a umask
    try:
        with Recorder(tmp_path / "rec", ["f"], fsync=False) as rec:
            rec.append(0.0, [1.0])
            rec.close({"ok": True})
        code, _, err = cli_doc(
            "documents", "consent", "--region", "lumbar", "--out", str(tmp_path / "c.pdf")
        )
        assert code == 0, err
        code, _, err = cli_doc(
            "session", "run", "--fast", "--minutes", "0.5", "--out", str(tmp_path / "s1")
        )
        assert code == 0, err
    finally:
        os.umask(old)
    assert mode(tmp_path / "rec") == 0o700
    assert {mode(f) for f in (tmp_path / "rec").iterdir()} == {0o600}
    assert mode(tmp_path / "c.pdf") == 0o600
    assert mode(tmp_path / "s1") == 0o700
    assert {mode(f) for f in (tmp_path / "s1").iterdir() if f.is_file()} == {0o600}


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("mysql://clinic:s3cret@db/sc", 2),
        ("postgresql+asyncpg://clinic:s3cret@db/sc", 2),
        ("postgresql+psycopg://clinic:s3cret@[::1", 2),
        ("sqlite:////", 9),  # a directory, not a database file
        ("sqlite:////proc/1/no/such.db", 2),
    ],
)
def test_database_urls_that_cannot_work(
    cli: Run, monkeypatch: pytest.MonkeyPatch, url: str, status: int
) -> None:
    monkeypatch.setenv("SPINECARE_DATABASE_URL", url)
    code, out, err = cli("patients", "list")
    assert code == status, err
    _one_clear_line(err)
    assert "s3cret" not in err and out == ""
