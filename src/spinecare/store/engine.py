"""Engine, session factory and unit of work.

``open_store()`` is the one way in: it builds the engine from the settings (SQLite file by
default, PostgreSQL through psycopg 3 when ``SPINECARE_DATABASE_URL`` says so) and brings the
schema to the newest migration on first use, so a fresh install needs no separate step.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from spinecare.settings import Settings, get_settings
from spinecare.store import migrate
from spinecare.store.audit import AuditedSession, set_actor


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine with the per-dialect settings the store relies on."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs["pool_pre_ping"] = True
    return create_engine(parsed, **kwargs)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # SQLite ignores foreign keys unless asked; wait on a locked file instead of failing at once.
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


class Store:
    """One database: engine plus a factory of audited sessions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._factory = sessionmaker(
            bind=engine, class_=AuditedSession, expire_on_commit=False, autoflush=True
        )

    @property
    def url_masked(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def session(self) -> AuditedSession:
        return self._factory()

    @contextmanager
    def unit_of_work(self, actor: str | None = None) -> Iterator[AuditedSession]:
        """A session whose changes commit together at the end (or roll back on an error)."""
        with self._factory() as session:
            if actor is not None:
                set_actor(session, actor)
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def upgrade(self, revision: str = "head") -> None:
        migrate.upgrade(self.engine, revision)

    def downgrade(self, revision: str = "-1") -> None:
        migrate.downgrade(self.engine, revision)

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(
    settings: Settings | None = None, *, url: str | None = None, auto_migrate: bool = True
) -> Store:
    """Open the configured database, migrating it to the newest schema unless told not to."""
    if url is None:
        url = (settings or get_settings()).database_url
    store = Store(make_engine(url))
    if auto_migrate and not migrate.is_up_to_date(store.engine):
        store.upgrade()
    return store
