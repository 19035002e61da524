"""Persistence: SQLAlchemy 2 models, engine and sessions, Alembic migrations, repositories.

Nothing above ``services/`` talks to the database directly; nothing in the pure layers
(``clinical/``, ``therapy/``, ...) imports from here.

The names below load on first use: importing a light submodule (``store.enums``) must not pull
in SQLAlchemy and Alembic, which every CLI command would then pay for at start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spinecare.store.base import Base
    from spinecare.store.engine import Store, open_store

__all__ = ["Base", "Store", "open_store"]

_WHERE = {
    "Base": "spinecare.store.base",
    "Store": "spinecare.store.engine",
    "open_store": "spinecare.store.engine",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
