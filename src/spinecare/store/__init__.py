"""Persistence: SQLAlchemy 2 models, engine and sessions, Alembic migrations, repositories.

Nothing above ``services/`` talks to the database directly; nothing in the pure layers
(``clinical/``, ``therapy/``, ...) imports from here.
"""

from spinecare.store.base import Base
from spinecare.store.engine import Store, open_store

__all__ = ["Base", "Store", "open_store"]
