"""Engine, session factory and unit of work.

``open_store()`` is the one way in: it builds the engine from the settings (SQLite file by
default, PostgreSQL through psycopg 3 when ``SPINECARE_DATABASE_URL`` says so) and brings the
schema to the newest migration on first use, so a fresh install needs no separate step.

Files: the data directory is 0700 and a SQLite database file 0600 (SQLite gives its journal the
database file's mode), whatever the umask. Waiting: a locked SQLite file is waited on for 5 s,
a PostgreSQL lock for 5 s and a connection for 5 s; then the operation fails (and
``store/faults.py`` says so in words) instead of hanging.
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
from spinecare.store import validation as _validation  # noqa: F401  (registers the flush checks)
from spinecare.store.audit import AuditedSession, set_actor
from spinecare.store.faults import FaultKind, StoreFault
from spinecare.store.files import private_dir, private_file

# How long a statement waits for a lock held by another writer (LOCK_TIMEOUT_MS, in migrate.py),
# and for a server to answer.
LOCK_TIMEOUT_MS = migrate.LOCK_TIMEOUT_MS
CONNECT_TIMEOUT_S = 5


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine with the per-dialect settings the store relies on."""
    parsed = make_url(url)
    # A database error's text never carries the statement's values (a password hash, a
    # patient's name) into a log or an error message.
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            if not path.parent.exists():
                private_dir(path.parent, setting="SPINECARE_DATABASE_URL")
            elif not path.parent.is_dir():
                from spinecare.errors import InputError

                raise InputError("SPINECARE_DATABASE_URL", "its directory is a file", str(path))
            private_file(path)
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs["pool_pre_ping"] = True
    if parsed.get_backend_name() == "postgresql":
        kwargs["connect_args"] = {
            "connect_timeout": CONNECT_TIMEOUT_S,
            "options": f"-c lock_timeout={LOCK_TIMEOUT_MS}",
            "application_name": "spinecare",
        }
    return create_engine(parsed, **kwargs)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None: not SQLite, in memory, or a ``file:`` URI)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # SQLite ignores foreign keys unless asked; wait on a locked file instead of failing at once.
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={LOCK_TIMEOUT_MS}")
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
        settings = settings or get_settings()
        private_dir(settings.data_dir)
        url = settings.database_url
    store = Store(make_engine(url))
    try:
        if auto_migrate and not migrate.is_up_to_date(store.engine):
            check_known_revision(store)
            store.upgrade()
    except BaseException:
        store.dispose()
        raise
    return store


def check_known_revision(store: Store) -> None:
    """Refuse a database whose schema is newer than this version knows (or not ours)."""
    current = migrate.current_revision(store.engine)
    if current is not None and not migrate.is_known_revision(current):
        raise StoreFault(
            FaultKind.SCHEMA,
            f"the database {store.url_masked} is at schema {current!r}, which this version of "
            "spinecare does not know (a newer version wrote it). Nothing was changed; use the "
            "newer version or restore a backup made by this one",
        )
