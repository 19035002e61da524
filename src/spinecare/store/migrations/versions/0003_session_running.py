"""Sessions: the status ``running``, recorded before a session's first tick.

A process killed during a session leaves its row ``running``; the next start closes it as
aborted with the telemetry it has (services/sessions.py).

Revision ID: 0003_session_running
Revises: 0002_billing
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_session_running"
down_revision: str | None = "0002_billing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
NEW = "status IN ('planned', 'running', 'done', 'aborted', 'cancelled')"
OLD = "status IN ('planned', 'done', 'aborted', 'cancelled')"


def _sessions(check: str) -> sa.Table:
    """The sessions table as 0001 created it, with the given status check (SQLite rebuild)."""
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
    # A session still marked running cannot be represented before this revision: it did not
    # finish, so it is recorded as aborted (never as done).
    op.execute("UPDATE sessions SET status = 'aborted' WHERE status = 'running'")
    _set_check(OLD)
