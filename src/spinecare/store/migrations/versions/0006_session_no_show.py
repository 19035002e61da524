"""Sessions: the status ``no_show``, for a patient who did not come to a booked session.

A no-show is not a cancellation made in time: the front desk records it on the day, it keeps its
place in the course (the session is not run and cannot be invoiced), and a follow-up session is
booked in its stead (services/schedule).

Revision ID: 0006_session_no_show
Revises: 0005_orthosis
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_session_no_show"
down_revision: str | None = "0005_orthosis"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
NEW = "status IN ('planned', 'running', 'done', 'aborted', 'cancelled', 'no_show')"
OLD = "status IN ('planned', 'running', 'done', 'aborted', 'cancelled')"


def _sessions(check: str) -> sa.Table:
    """The sessions table as 0004 left it, with the given status check (SQLite rebuild)."""
    ts = sa.DateTime(timezone=True)
    return sa.Table(
        "sessions",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("course_id", sa.Integer, sa.ForeignKey("courses.id"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("scheduled_start", ts, nullable=False),
        sa.Column("scheduled_end", ts, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("protocol", JSON, nullable=False),
        sa.Column("telemetry_dir", sa.String(1000), nullable=True),
        sa.Column("summary", JSON, nullable=True),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("updated_at", ts, nullable=True),
        sa.CheckConstraint(check, name="ck_sessions_status"),
        sa.CheckConstraint("number >= 1", name="ck_sessions_number_positive"),
        sa.CheckConstraint("scheduled_end > scheduled_start", name="ck_sessions_end_after_start"),
        sa.UniqueConstraint("course_id", "number", name="uq_sessions_course_id_number"),
        sa.Index("uq_sessions_telemetry_dir", "telemetry_dir", unique=True),
    )


def _set_check(check: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("sessions", copy_from=_sessions(check), recreate="always"):
            pass
    else:
        op.drop_constraint(op.f("ck_sessions_status"), "sessions", type_="check")
        op.create_check_constraint(op.f("ck_sessions_status"), "sessions", check)


def upgrade() -> None:
    _set_check(NEW)


def downgrade() -> None:
    # Before this revision a missed session could only be cancelled: it was not run either way.
    op.execute("UPDATE sessions SET status = 'cancelled' WHERE status = 'no_show'")
    _set_check(OLD)
