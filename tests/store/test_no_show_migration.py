"""Migration 0006_session_no_show on SQLite and PostgreSQL: up accepts the status, down turns a
no-show into a cancellation (neither was run) and keeps the one-directory-per-session index."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from spinecare.store import migrate
from spinecare.store.engine import make_engine


def _session(engine: Engine, status: str) -> None:
    now = datetime.now(UTC)
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO patients (name, birth_date, sex, weight_kg, height_cm, insurance,"
                " icd_consent, created_at) VALUES ('A', :b, 'F', 60, 160, 'private', false, :n)"
            ),
            {"b": date(1950, 1, 1), "n": now},
        )
        pid = c.execute(text("SELECT MAX(id) FROM patients")).scalar_one()
        c.execute(
            text(
                "INSERT INTO courses (patient_id, region, segment, planned_sessions,"
                " sessions_per_week, status, start_date, created_at)"
                " VALUES (:p, 'lumbar', 'L4/5', 15, 3, 'active', :d, :n)"
            ),
            {"p": pid, "d": date(2026, 1, 5), "n": now},
        )
        cid = c.execute(text("SELECT MAX(id) FROM courses")).scalar_one()
        c.execute(
            text(
                "INSERT INTO sessions (course_id, number, scheduled_start, scheduled_end, status,"
                " protocol, created_at) VALUES (:c, 1, :s, :e, :st, '{}', :n)"
            ),
            {"c": cid, "s": now, "e": now + timedelta(minutes=30), "st": status, "n": now},
        )


def test_up_and_down(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine, "0005_orthosis")
        with pytest.raises(IntegrityError):
            _session(engine, "no_show")
        migrate.upgrade(engine, "0006_session_no_show")
        _session(engine, "no_show")
        migrate.downgrade(engine, "0005_orthosis")
        with engine.connect() as c:
            assert c.execute(text("SELECT status FROM sessions")).scalars().all() == ["cancelled"]
        names = {i["name"] for i in inspect(engine).get_indexes("sessions")}
        assert "uq_sessions_telemetry_dir" in names
        migrate.upgrade(engine, "head")
        names = {i["name"] for i in inspect(engine).get_indexes("sessions")}
        assert "uq_sessions_telemetry_dir" in names
    finally:
        engine.dispose()
