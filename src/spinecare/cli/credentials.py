"""The CLI's logins: tokens in ``<data dir>/credentials.json``, 0600 in the 0700 data directory.

``spinecare login`` stores one entry per database and user: the bearer token (the database
keeps only its hash), when it expires and when it was made. A command acts as the newest login
for the configured database, or, with ``--as NAME`` / ``SPINECARE_USER``, as the login of NAME
*that this account holds*: naming a user never acts as that user without their password.

A file another account could read is refused (its tokens may have been copied: log out with
``--all`` to end them, then log in again); a damaged file counts as no login.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spinecare.services.errors import AuthenticationError

if TYPE_CHECKING:
    from spinecare.settings import Settings

FILE = "credentials.json"
VERSION = 1


@dataclass(frozen=True, slots=True)
class Login:
    database: str  # the masked database URL the token belongs to
    username: str
    token: str
    expires_at: str  # ISO 8601, UTC
    logged_in_at: str

    @property
    def expired(self) -> bool:
        try:
            return datetime.fromisoformat(self.expires_at) <= datetime.now(UTC)
        except ValueError:
            return True


def path(settings: Settings) -> Path:
    return Path(settings.data_dir) / FILE


@contextlib.contextmanager
def _locked(settings: Settings) -> Iterator[None]:
    """Serialise read-modify-write of the file between processes of this account."""
    from spinecare.store.files import private_dir

    folder = private_dir(Path(settings.data_dir))
    fd = os.open(folder / f".{FILE}.lock", os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _parse(data: Any) -> list[Login]:
    """The file's well-formed logins. An entry lacking a field or holding a number where the
    file keeps text was not written by ``spinecare login``: it is passed over like a damaged
    file (status 7, "not logged in": logging in again rewrites the file), never guessed at
    (``"token": 5`` was read as the token "5") nor a KeyError (status 70)."""
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return []
    logins = data.get("logins")
    out: list[Login] = []
    for item in logins if isinstance(logins, list) else []:
        if not isinstance(item, dict):
            continue
        fields = Login.__dataclass_fields__
        values = {k: v for k in fields if isinstance(v := item.get(k), str) and v}
        if len(values) == len(fields):
            out.append(Login(**values))
    return out


def load(settings: Settings) -> list[Login]:
    """Every login of this account (expired ones included); [] when there is no file."""
    from spinecare.store.files import is_private

    file = path(settings)
    if file.exists() and not file.is_file():
        raise AuthenticationError(
            f"{file} is not a file, so no login can be kept there",
            "move it aside, then log in again (spinecare login)",
        )
    try:
        if not is_private(file):
            raise AuthenticationError(
                f"{file} may be read by other accounts, so its logins were not used",
                "end them with spinecare logout --all, then log in again",
            )
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except UnicodeDecodeError:
        return []  # damaged (not text), as unreadable JSON: no login; the next login rewrites it
    try:
        return _parse(json.loads(text))
    except (ValueError, RecursionError):
        return []


def load_exposed(settings: Settings) -> list[Login]:
    """The logins of a file others could read (refused by :func:`load`): only to end them, as
    their tokens may have been copied."""
    try:
        return _parse(json.loads(path(settings).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return []


def _save(settings: Settings, logins: list[Login]) -> None:
    from spinecare.store.files import write_private

    live = [x for x in logins if not x.expired]
    data = {"version": VERSION, "logins": [asdict(x) for x in live]}
    write_private(path(settings), (json.dumps(data, indent=2) + "\n").encode("utf-8"))


def add(settings: Settings, login: Login) -> None:
    """Store ``login``, replacing an earlier one of the same user on the same database."""
    with _locked(settings):
        try:
            logins = load(settings)
        except AuthenticationError:
            logins = []  # a file others could read is replaced by a private one
        keep = [x for x in logins if (x.database, x.username) != (login.database, login.username)]
        _save(settings, [*keep, login])


def remove(settings: Settings, database: str, usernames: set[str] | None = None) -> list[Login]:
    """Forget the logins of ``usernames`` (all users: None) on ``database``; returns them."""
    with _locked(settings):
        try:
            logins = load(settings)
        except AuthenticationError:
            logins = []
        gone = [
            x for x in logins
            if x.database == database and (usernames is None or x.username in usernames)
        ]  # fmt: skip
        if gone or not path(settings).exists() or not _file_private(settings):
            _save(settings, [x for x in logins if x not in gone])
        return gone


def _file_private(settings: Settings) -> bool:
    from spinecare.store.files import is_private

    try:
        return is_private(path(settings))
    except OSError:
        return False


def find(settings: Settings, database: str, username: str | None) -> Login | None:
    """The login to act with: ``username``'s, or the newest one on ``database``."""
    logins = [x for x in load(settings) if x.database == database]
    if username is not None:
        name = username.strip().lower()
        logins = [x for x in logins if x.username == name]
    return max(logins, key=lambda x: x.logged_in_at, default=None)
