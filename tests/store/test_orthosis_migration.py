"""Migration 0005_orthosis on SQLite and PostgreSQL: up creates the pathway's tables, their
checks refuse what the models refuse, down removes exactly them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from spinecare.store import migrate
from spinecare.store.engine import make_engine

TABLES = {
    "orthosis_prescriptions",
    "orthosis_followups",
    "osteoporosis_risk_factors",
    "drug_therapies",
    "height_measurements",
    "posture_recordings",
}


def test_up_and_down(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine, "0005_orthosis")
        assert set(inspect(engine).get_table_names()) >= TABLES
        now = datetime.now(UTC)
        with engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO patients (name, birth_date, sex, weight_kg, height_cm, insurance,"
                    " icd_consent, created_at) VALUES ('A', :b, 'F', 60, 160, 'private', false, :n)"
                ),
                {"b": date(1950, 1, 1), "n": now},
            )
        for sql in (
            "INSERT INTO height_measurements (patient_id, measured_on, height_cm, kind, created_at)"
            " VALUES (1, :d, 160, 'guessed', :n)",
            "INSERT INTO drug_therapies (patient_id, drug_class, substance, started_on, stopped_on,"
            " prescriber, created_at)"
            " VALUES (1, 'bisphosphonate', 'x', :d, '2000-01-01', 'Dr', :n)",
            "INSERT INTO osteoporosis_risk_factors (patient_id, code, recorded_on, created_at)"
            " VALUES (1, 'astrology', :d, :n)",
        ):
            with pytest.raises(IntegrityError), engine.begin() as c:
                c.execute(text(sql), {"d": date(2026, 1, 1), "n": now})
        migrate.downgrade(engine, "0004_auth_audit_chain")
        assert not TABLES & set(inspect(engine).get_table_names())
        assert "patients" in inspect(engine).get_table_names()
        migrate.upgrade(engine, "head")
        assert set(inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()
