"""Migration 0007_patient_master_data on SQLite and PostgreSQL: up adds the address columns and
fills the folded name and the start of sessions already run; down removes them again and keeps
the sessions' constraints and index."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from spinecare.store import migrate
from spinecare.store.engine import make_engine


def test_up_and_down(db_url: str) -> None:
    engine = make_engine(db_url)
    now = datetime.now(UTC)
    try:
        migrate.upgrade(engine, "0006_session_no_show")
        with engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO patients (name, birth_date, sex, weight_kg, height_cm, insurance,"
                    " icd_consent, created_at) VALUES ('Jörg Müller', :b, 'M', 80, 180,"
                    " 'private', false, :n)"
                ),
                {"b": date(1961, 5, 14), "n": now},
            )
            c.execute(
                text(
                    "INSERT INTO courses (patient_id, region, segment, planned_sessions,"
                    " sessions_per_week, status, start_date, created_at)"
                    " VALUES (1, 'lumbar', 'L4/5', 15, 3, 'active', :d, :n)"
                ),
                {"d": date(2026, 1, 5), "n": now},
            )
            c.execute(
                text(
                    "INSERT INTO sessions (course_id, number, scheduled_start, scheduled_end,"
                    " status, protocol, created_at, updated_at)"
                    " VALUES (1, 1, :s, :e, 'done', '{}', :n, :u)"
                ),
                {"s": now, "e": now + timedelta(minutes=30), "n": now,
                 "u": now + timedelta(days=2)},
            )  # fmt: skip
        migrate.upgrade(engine, "0007_patient_master_data")
        with engine.connect() as c:
            folded = c.execute(text("SELECT name_folded FROM patients")).scalar_one()
            started = c.execute(text("SELECT started_at FROM sessions")).scalar_one()
        assert folded == "jorg muller"
        assert started is not None
        migrate.downgrade(engine, "0006_session_no_show")
        cols = {c["name"] for c in inspect(engine).get_columns("patients")}
        assert "postcode" not in cols and "name_folded" not in cols
        assert "started_at" not in {c["name"] for c in inspect(engine).get_columns("sessions")}
        names = {i["name"] for i in inspect(engine).get_indexes("sessions")}
        assert "uq_sessions_telemetry_dir" in names
        with pytest.raises(IntegrityError), engine.begin() as c:
            c.execute(text("UPDATE sessions SET status = 'nonsense'"))
        migrate.upgrade(engine, "head")
        assert "postcode" in {c["name"] for c in inspect(engine).get_columns("patients")}
    finally:
        engine.dispose()
