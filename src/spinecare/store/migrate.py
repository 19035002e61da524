"""Alembic driven from code: no alembic.ini needed, works from an installed package.

The migration scripts live inside the package (``store/migrations``); the database URL comes from
the settings. ``spinecare db upgrade`` and the automatic upgrade on first use both end here.

A migration is all or nothing. PostgreSQL runs DDL in transactions; SQLite does too, but Python's
sqlite3 driver opens its transaction only at the first data change, so on SQLite a migration runs
on a connection of its own that begins with ``BEGIN IMMEDIATE`` (the writer lock from the start)
and, as SQLite's procedure for rebuilding tables prescribes, with foreign keys off and checked
with ``PRAGMA foreign_key_check`` before it commits [sqlite-altertable].
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.pool import NullPool

if TYPE_CHECKING:
    from alembic.config import Config

# How long a statement waits for a lock another writer holds (SQLite busy timeout, PostgreSQL
# lock_timeout), in milliseconds.
LOCK_TIMEOUT_MS = 5000

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# The newest migration this version ships. Every command opens the database and asks whether it
# is at this revision; stating it here spares each of them importing Alembic (60-130 ms of a
# read command's start-up). tests/store/test_migrations.py holds it to Alembic's own answer.
HEAD_REVISION = "0007_patient_master_data"


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic Config pointing at the packaged scripts (and, if given, at ``engine``)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        url = engine.url.render_as_string(hide_password=False)
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    return HEAD_REVISION


def scripts_head_revision() -> str | None:
    """The head as Alembic reads it from the scripts (what ``HEAD_REVISION`` must say)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def is_known_revision(revision: str) -> bool:
    """True when ``revision`` is one of the migrations this version ships."""
    from alembic.script import ScriptDirectory

    return any(
        script.revision == revision
        for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    )


def upgrade_target(engine: Engine, revision: str) -> str:
    """The revision of ``db upgrade REVISION``: ``head`` or a shipped revision not below the
    database's; raises InputError otherwise (nothing is changed)."""
    from alembic.script import ScriptDirectory

    from spinecare.errors import InputError

    text = revision.strip()
    if text == "head":
        return text
    script = ScriptDirectory.from_config(alembic_config())
    known = [s.revision for s in script.walk_revisions()]  # newest first
    if text not in known:
        raise InputError("revision", "not a revision of this version ('head' or an id)", revision)
    current = current_revision(engine)
    if current is not None and current in known and known.index(text) > known.index(current):
        raise InputError(
            "revision", f"is below the database's {current}: use db downgrade", revision
        )
    return text


def downgrade_target(engine: Engine, revision: str) -> tuple[str, str | None]:
    """(current revision, target revision or None for base) of ``db downgrade REVISION``:
    ``-N`` steps, ``base``, or a revision the database has passed. Raises InputError when the
    database has no schema or ``revision`` is not below the current one."""
    from alembic.script import ScriptDirectory

    from spinecare.errors import InputError

    current = current_revision(engine)
    if current is None:
        raise InputError("revision", "the database has no schema to downgrade")
    script = ScriptDirectory.from_config(alembic_config())
    below: list[str] = []  # revisions under the current one, nearest first
    rev = script.get_revision(current)
    while rev is not None and rev.down_revision is not None:
        down = rev.down_revision
        if not isinstance(down, str):  # a merge point: not in this linear history
            raise InputError("revision", "the history has a merge point; downgrade by id")
        below.append(down)
        rev = script.get_revision(down)
    text = revision.strip()
    if text == "base":
        return current, None
    if text.startswith("-") and text[1:].isdecimal():
        steps = int(text[1:])
        if steps < 1:
            raise InputError("revision", "give at least one step (-1)", revision)
        if steps > len(below) + 1:
            raise InputError("revision", f"only {len(below) + 1} step(s) down to base", revision)
        return current, below[steps - 1] if steps <= len(below) else None
    if text in below:
        return current, text
    raise InputError(
        "revision", f"not a revision below {current} (one of: {', '.join(below) or 'base'})",
        revision,
    )  # fmt: skip


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision (None: no schema yet), read as Alembic stores it."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
        if len(rows) <= 1:
            return str(rows[0][0]) if rows else None
        from alembic.runtime.migration import MigrationContext

        return MigrationContext.configure(conn).get_current_revision()  # raises: several heads


def is_up_to_date(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


@contextmanager
def _migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction that commits only if the whole migration succeeds."""
    database = engine.url.database or ""
    if engine.dialect.name != "sqlite" or database in ("", ":memory:") or "mode=memory" in database:
        with engine.begin() as conn:
            yield conn
        return
    own = create_engine(engine.url, poolclass=NullPool)

    @event.listens_for(own, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # the driver opens no transaction of its own
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={LOCK_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=OFF")  # only outside a transaction; back on per use
        cur.close()

    @event.listens_for(own, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    try:
        with own.begin() as conn:
            yield conn
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").first()
            if broken is not None:
                from spinecare.store.faults import MigrationRefused

                raise MigrationRefused(
                    f"the migration would leave rows of {broken[0]} pointing at missing rows of "
                    f"{broken[2]}; nothing was changed"
                )
    finally:
        own.dispose()


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    with _migration_connection(engine) as conn:
        cfg = alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str = "-1") -> None:
    from alembic import command

    with _migration_connection(engine) as conn:
        cfg = alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
