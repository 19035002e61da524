"""Logins and a tamper-evident audit log.

- ``users``: ``must_change_password`` (one-time passwords), ``failed_logins`` and
  ``locked_until`` (lockout after repeated failed logins);
- ``auth_tokens``: CLI and web logins (the SHA-256 of a random token, an expiry, a revocation);
- ``audit_log``: ``prev_hash`` and ``hash``, a SHA-256 chain over the entries, computed here for
  the entries already written; ``audit_chain`` holds the chain's newest entry;
- ``sessions``: one output directory records one session (unique ``telemetry_dir``);
- ``invoices``: a discarded draft is ``cancelled`` without a number (the check of 0002 allowed a
  missing number only on drafts).

Revision ID: 0004_auth_audit_chain
Revises: 0003_session_running
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_auth_audit_chain"
down_revision: str | None = "0003_session_running"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def _audit_log(*extra: sa.Column[Any]) -> sa.Table:
    """audit_log as 0001 created it, plus ``extra`` columns (for SQLite's table rebuild)."""
    return sa.Table(
        "audit_log",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("before", JSON, nullable=True),
        sa.Column("after", JSON, nullable=True),
        *extra,
        sa.Index("ix_audit_log_entity", "entity", "entity_id"),
    )


def _users(*extra: sa.Column[Any]) -> sa.Table:
    return sa.Table(
        "users",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        *extra,
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=True),
        sa.CheckConstraint(
            "role IN ('physician', 'therapist', 'billing', 'admin')", name="ck_users_role"
        ),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )


INVOICE_NUMBER_NEW = (
    "(status = 'draft' AND number IS NULL) OR (status IN ('issued', 'paid') AND number IS NOT "
    "NULL) OR status = 'cancelled'"
)
INVOICE_NUMBER_OLD = "(status = 'draft') = (number IS NULL)"


def _invoices(number_check: str) -> sa.Table:
    """invoices as 0002 created it, with the given number check (SQLite rebuild)."""
    return sa.Table(
        "invoices",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("patient_id", sa.Integer, sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("course_id", sa.Integer, sa.ForeignKey("courses.id"), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("number", sa.String(16), nullable=True),
        sa.Column("year", sa.Integer, nullable=True),
        sa.Column("sequence", sa.Integer, nullable=True),
        sa.Column("scale", sa.String(32), nullable=False),
        sa.Column("lang", sa.String(2), nullable=False),
        sa.Column("recipient", JSON, nullable=False),
        sa.Column("diagnosis_icd10", sa.String(8), nullable=True),
        sa.Column("diagnosis_text", sa.Text, nullable=True),
        sa.Column("total", sa.Numeric(10, 2), nullable=False),
        sa.Column("issued_on", sa.Date, nullable=True),
        sa.Column("paid_on", sa.Date, nullable=True),
        sa.Column("cancelled_on", sa.Date, nullable=True),
        sa.Column("refers_to_id", sa.Integer, sa.ForeignKey("invoices.id"), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=True),
        sa.CheckConstraint("kind IN ('invoice', 'credit_note')", name="ck_invoices_kind"),
        sa.CheckConstraint(
            "status IN ('draft', 'issued', 'paid', 'cancelled')", name="ck_invoices_status"
        ),
        sa.CheckConstraint(number_check, name="ck_invoices_number_iff_issued"),
        sa.UniqueConstraint("number", name="uq_invoices_number"),
        sa.UniqueConstraint("year", "sequence", name="uq_invoices_year_sequence"),
        sa.Index("ix_invoices_patient_id", "patient_id"),
    )


def _set_invoice_check(dialect: str, check: str) -> None:
    if dialect == "sqlite":
        with op.batch_alter_table("invoices", copy_from=_invoices(check), recreate="always"):
            pass
    else:
        op.drop_constraint(op.f("ck_invoices_number_iff_issued"), "invoices", type_="check")
        op.create_check_constraint(op.f("ck_invoices_number_iff_issued"), "invoices", check)


def _drop_triggers(dialect: str) -> None:
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")


def _create_triggers(dialect: str) -> None:
    """The append-only triggers of 0001 (the function stays in place on PostgreSQL)."""
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: {verb} refused'); END"
            )
    else:
        op.execute(
            "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )


def _refuse_shared_directories(bind: sa.Connection) -> None:
    from spinecare.store.faults import MigrationRefused

    dup = bind.execute(
        sa.text(
            "SELECT telemetry_dir, MIN(id), MAX(id) FROM sessions WHERE telemetry_dir IS NOT NULL "
            "GROUP BY telemetry_dir HAVING COUNT(*) > 1"
        )
    ).first()
    if dup is not None:
        raise MigrationRefused(
            f"sessions {dup[1]} and {dup[2]} name the same output directory; correct one of "
            "them before upgrading (one directory records one session)"
        )


def _chain_existing(bind: sa.Connection) -> tuple[int, str, Any]:
    """Hash the entries already written, oldest first; returns the chain's head (id, hash, at).

    The columns are read with the types the store uses (UTC instants, JSON), so the hashes are
    those ``audit verify`` recomputes."""
    from spinecare.store.audit import GENESIS, entry_hash
    from spinecare.store.types import UTCDateTime

    log = sa.table(
        "audit_log",
        sa.column("id", sa.Integer),
        sa.column("at", UTCDateTime()),
        sa.column("actor", sa.String),
        sa.column("entity", sa.String),
        sa.column("entity_id", sa.String),
        sa.column("action", sa.String),
        sa.column("before", JSON),
        sa.column("after", JSON),
        sa.column("prev_hash", sa.String),
        sa.column("hash", sa.String),
    )
    rows = bind.execute(
        sa.select(
            log.c.id, log.c.at, log.c.actor, log.c.entity, log.c.entity_id, log.c.action,
            log.c.before, log.c.after,
        ).order_by(log.c.id)
    ).all()  # fmt: skip
    prev, last_id, last_at = GENESIS, 0, None
    for r in rows:
        digest = entry_hash(
            prev, r.id, r.at, r.actor, r.entity, r.entity_id, r.action, r.before, r.after
        )
        bind.execute(sa.update(log).where(log.c.id == r.id).values(prev_hash=prev, hash=digest))
        prev, last_id = digest, r.id
        last_at = r.at if last_at is None or r.at > last_at else last_at
    return last_id, prev, last_at


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    _refuse_shared_directories(bind)

    op.add_column(
        "users",
        sa.Column("must_change_password", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "users", sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0")
    )
    op.add_column("users", sa.Column("locked_until", TS, nullable=True))
    op.create_table(
        "auth_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.CheckConstraint("kind IN ('cli', 'web')", name="kind"),
        sa.CheckConstraint("expires_at > created_at", name="expires_after_created"),
    )
    op.create_index("ix_auth_tokens_user_id", "auth_tokens", ["user_id"])
    op.create_index("uq_sessions_telemetry_dir", "sessions", ["telemetry_dir"], unique=True)
    _set_invoice_check(dialect, INVOICE_NUMBER_NEW)

    # The chain: add the columns, hash what is there, then make them required.
    _drop_triggers(dialect)
    op.add_column("audit_log", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("audit_log", sa.Column("hash", sa.String(64), nullable=True))
    last_id, last_hash, last_at = _chain_existing(bind)
    if dialect == "sqlite":
        table = _audit_log(
            sa.Column("prev_hash", sa.String(64), nullable=False),
            sa.Column("hash", sa.String(64), nullable=False),
        )
        with op.batch_alter_table("audit_log", copy_from=table, recreate="always"):
            pass
    else:
        op.alter_column("audit_log", "prev_hash", nullable=False)
        op.alter_column("audit_log", "hash", nullable=False)
    _create_triggers(dialect)
    op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_id", sa.Integer, nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("last_at", TS, nullable=True),
    )
    from spinecare.store.types import UTCDateTime

    head = sa.table(
        "audit_chain",
        sa.column("id", sa.Integer),
        sa.column("last_id", sa.Integer),
        sa.column("last_hash", sa.String),
        sa.column("last_at", UTCDateTime()),
    )
    bind.execute(
        sa.insert(head).values(id=1, last_id=last_id, last_hash=last_hash, last_at=last_at)
    )


def downgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    discarded = bind.execute(
        sa.text("SELECT COUNT(*) FROM invoices WHERE status = 'cancelled' AND number IS NULL")
    ).scalar_one()
    if discarded:
        from spinecare.store.faults import MigrationRefused

        raise MigrationRefused(
            f"{discarded} discarded draft invoice(s) cannot be represented below "
            "0004_auth_audit_chain; nothing was changed"
        )
    _set_invoice_check(dialect, INVOICE_NUMBER_OLD)
    op.drop_table("audit_chain")
    _drop_triggers(dialect)
    if dialect == "sqlite":
        with op.batch_alter_table(
            "audit_log",
            copy_from=_audit_log(
                sa.Column("prev_hash", sa.String(64), nullable=False),
                sa.Column("hash", sa.String(64), nullable=False),
            ),
        ) as batch:
            batch.drop_column("hash")
            batch.drop_column("prev_hash")
    else:
        op.drop_column("audit_log", "hash")
        op.drop_column("audit_log", "prev_hash")
    _create_triggers(dialect)
    op.drop_index("uq_sessions_telemetry_dir", table_name="sessions")
    op.drop_index("ix_auth_tokens_user_id", table_name="auth_tokens")
    op.drop_table("auth_tokens")
    if dialect == "sqlite":
        with op.batch_alter_table(
            "users",
            copy_from=_users(
                sa.Column("must_change_password", sa.Boolean, nullable=False),
                sa.Column("failed_logins", sa.Integer, nullable=False),
                sa.Column("locked_until", TS, nullable=True),
            ),
        ) as batch:
            batch.drop_column("locked_until")
            batch.drop_column("failed_logins")
            batch.drop_column("must_change_password")
    else:
        op.drop_column("users", "locked_until")
        op.drop_column("users", "failed_logins")
        op.drop_column("users", "must_change_password")
