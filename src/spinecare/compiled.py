"""numba's disk cache, valid only for the exact sources of every compiled core.

numba keys a cached function on its own file. A compiled function that calls into another
module (the batch loop into the safety policy, the controller into the guarding detector, the
table into the physics) carries that module's code and constants inside its cache entry; after
an update that changes only the callee's file, numba would load the caller's old entry and run
yesterday's safety policy. Here every cache entry of the package's compiled modules is keyed on
the digest of all of them (and of the constants modules they read), so any change to any of
them recompiles everything. Every module that compiles with ``cache=True`` imports this module
first (tests/test_source_rules.py holds them to it).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from numba import njit
from numba.core import caching

F = TypeVar("F", bound=Callable[..., Any])

_PACKAGE = Path(__file__).resolve().parent
# What compiled code can reach: the cores and the constants they freeze at compile time.
_PARTS = ("sim", "signals", "therapy", "cohort", "devices", "runtime")


@functools.lru_cache(maxsize=1)
def sources_digest() -> str:
    """SHA-256 over the package's top-level modules and the compiled layers, in path order."""
    files = sorted(_PACKAGE.glob("*.py"))
    for part in _PARTS:
        files.extend(sorted((_PACKAGE / part).rglob("*.py")))
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(_PACKAGE)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def _ours(py_file: str) -> bool:
    try:
        return Path(py_file).resolve().is_relative_to(_PACKAGE)
    except OSError:
        return False


class _Keyed:
    """The stamp of numba's own locator plus the digest of every compiled module; only for
    functions of this package."""

    def get_source_stamp(self) -> Any:
        return (super().get_source_stamp(), sources_digest())  # type: ignore[misc]

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> Any:
        if not _ours(py_file):
            return None
        return super().from_function(py_func, py_file)  # type: ignore[misc]


class _InTree(_Keyed, caching.InTreeCacheLocator):
    """Next to the source (``__pycache__``)."""


class _UserWide(_Keyed, caching.UserWideCacheLocator):
    """The user's cache directory when the package's own is read-only."""


def jit_core(fn: F) -> F:
    """Compile a core function with numba's disk cache; uncompiled under NUMBA_DISABLE_JIT=1.

    ``njit(...)(fn)`` rather than a decorator: mutmut leaves decorated functions alone, and
    mutation testing runs the cores uncompiled (scripts/mutate.py). The GIL is kept: a call
    takes microseconds, and releasing it once per call and tick only lets another thread of the
    process (the web server) make the 50 Hz loop wait to get it back."""
    return cast(F, njit(cache=True)(fn))


def _install() -> None:
    # numba's list of locators (CacheImpl since 0.60, _CacheImpl before).
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")  # noqa: B009
    classes = impl._locator_classes
    if _InTree not in classes:
        classes[0:0] = [_InTree, _UserWide]


_install()
