"""A course session whose table never moved is not a session that ran: when its output cannot be
opened or its table cannot be reached, it is planned again (not left ``running`` for the next
start to close as aborted), and the output directory is left as it was, ready for another try."""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from spinecare.errors import InputError
from spinecare.services import sessions as svc
from spinecare.services.auth import Actor
from spinecare.store import Store
from spinecare.store.audit import AuditedSession
from spinecare.store.enums import Role
from spinecare.store.models import TreatmentSession
from spinecare.therapy.protocol import default_protocol
from spinecare.vocab import Region
from tests.services.test_sessions import _course, _factory


def _row(store: Store, session_id: int) -> tuple[str, str | None, object]:
    with store.session() as db:
        row = db.get(TreatmentSession, session_id)
        assert row is not None
        return row.status, row.telemetry_dir, row.started_at


def _unreachable(now: Callable[[], float]) -> Any:
    raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused", "modbus://10.0.0.9")


def test_a_table_that_cannot_be_reached_leaves_the_session_planned(
    store: Store, db: AuditedSession, actors: dict[Role, Actor], patient_id: int, tmp_path: Path
) -> None:
    ids = _course(db, actors, patient_id)
    ther = actors[Role.THERAPIST]
    with pytest.raises(ConnectionRefusedError):
        svc.course_session_prepare(
            store.unit_of_work, ther, ids[0], _unreachable, out_dir=tmp_path / "a"
        )
    assert _row(store, ids[0]) == ("planned", None, None)
    # Nothing for the next start to close: it runs the same session.
    live = svc.course_session_prepare(
        store.unit_of_work, ther, ids[0], _factory(), out_dir=tmp_path / "b", minutes=2.0
    )
    assert live.run().course_session is not None
    assert _row(store, ids[0])[0] == "done"


def test_output_that_cannot_be_opened_leaves_the_session_planned_and_no_empty_files(
    store: Store,
    db: AuditedSession,
    actors: dict[Role, Actor],
    patient_id: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = _course(db, actors, patient_id)
    out = tmp_path / "s"
    out.mkdir()

    def unopenable(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(out / "events.jsonl"))

    monkeypatch.setattr(svc, "Recorder", unopenable)
    with pytest.raises(PermissionError):
        svc.course_session_prepare(
            store.unit_of_work, actors[Role.THERAPIST], ids[0], _factory(), out_dir=out
        )
    assert _row(store, ids[0]) == ("planned", None, None)
    assert not (out / "telemetry.csv").exists()  # the directory may be used again
    # a directory that holds another record's file is refused before anything is recorded
    (out / "events.jsonl").write_text("{}\n")
    with pytest.raises(InputError, match="record already"):
        svc.course_session_prepare(
            store.unit_of_work, actors[Role.THERAPIST], ids[0], _factory(), out_dir=out
        )
    assert _row(store, ids[0]) == ("planned", None, None)


def test_a_failed_first_write_names_the_output_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flush on a full disk raises ENOSPC without a file name; the user must read where."""

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(svc, "Recorder", full_disk)
    proto = default_protocol(Region.LUMBAR, 80.0, "L4/5")
    with pytest.raises(OSError) as raised:
        svc.session_prepare(proto, _factory(), out_dir=tmp_path / "full")
    assert raised.value.errno == errno.ENOSPC
    assert raised.value.filename == str(tmp_path / "full")
