"""Patients: postal address, phone, e-mail, insurer, insurance number, treating physician and a
folded name for searching; sessions: when a session actually started.

An invoice needs the patient's address and the day each service was rendered (§12(2) Nr. 1 GOÄ
[goae]: "Datum der Erbringung der Leistung"), which is the day the session ran, not the day it
was booked. All new columns are nullable: a patient registered before this revision has no
address until someone enters it (an invoice then prints the name only).

``sessions.started_at`` of a session run before this revision is taken from the time its result
was stored (``updated_at``): the CLI and the web app store the result when the session ends, on
the day it ran (assumption; an attached session may have been recorded later).

``patients.name_folded`` is the name in lower case without accents ('Müller' -> 'muller'), kept
by the patients service, so a search ignores case and accents on SQLite and PostgreSQL alike.

Revision ID: 0007_patient_master_data
Revises: 0006_session_no_show
Create Date: 2026-11-28
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_patient_master_data"
down_revision: str | None = "0006_session_no_show"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PATIENT_COLUMNS: tuple[tuple[str, int], ...] = (
    ("street", 200),
    ("postcode", 10),
    ("city", 100),
    ("country", 2),
    ("phone", 40),
    ("email", 254),
    ("insurer", 200),
    ("insurance_number", 40),
    ("physician", 200),
    ("name_folded", 200),
)
_FOLD = str.maketrans({"ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "ł": "l", "đ": "d"})


def _fold(text: str) -> str:
    """As ``services.patients.fold`` (a migration keeps its own copy: code may change later)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def upgrade() -> None:
    for name, length in PATIENT_COLUMNS:
        op.add_column("patients", sa.Column(name, sa.String(length), nullable=True))
    op.create_index("ix_patients_name_folded", "patients", ["name_folded"])
    op.add_column("sessions", sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, name FROM patients")).all()
    for pid, name in rows:
        bind.execute(
            sa.text("UPDATE patients SET name_folded = :f WHERE id = :i"),
            {"f": _fold(name), "i": pid},
        )
    op.execute(
        "UPDATE sessions SET started_at = COALESCE(updated_at, scheduled_start)"
        " WHERE status IN ('done', 'aborted')"
    )


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("started_at")
    op.drop_index("ix_patients_name_folded", table_name="patients")
    with op.batch_alter_table("patients") as batch:
        for name, _ in reversed(PATIENT_COLUMNS):
            batch.drop_column(name)
