"""Browser logins on the users service, whichever generation of it this checkout has.

The users service is gaining the first admin with a one-time password (``bootstrap_admin``),
lockout inside ``authenticate``, forced password changes and login tokens. Where it offers them
the web app uses them: a login issues a token (kept in the signed session cookie, verified on
every request, revoked at logout and by a password change). Where it does not yet, this module
does the same with what exists: the session holds the user id, a throttle locks a name after
repeated failures, and the first admin and password changes go through the ORM as an acting
user (audited like every other change).
"""

from __future__ import annotations

import importlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from spinecare.errors import InputError
from spinecare.services._common import act_as, utcnow
from spinecare.services.auth import Actor
from spinecare.store import Store
from spinecare.store.enums import Role
from spinecare.store.models import User
from spinecare.web.security import LoginThrottle

# Typed loosely on purpose: the functions used differ between the two generations.
_users: Any = importlib.import_module("spinecare.services.users")
_auth: Any = importlib.import_module("spinecare.services.auth")
_errors: Any = importlib.import_module("spinecare.services.errors")

# The service issues and verifies login tokens and locks accounts itself.
SERVICE_LOGINS: bool = hasattr(_auth, "issue_token") and hasattr(_users, "bootstrap_admin")
AuthFailed: type[Exception] = getattr(_errors, "AuthenticationError", PermissionError)
FIRST_ADMIN = "admin"
UID_KEY = "uid"
TOKEN_KEY = "token"
MUST_CHANGE_DIR = "must-change-password"


@dataclass(frozen=True, slots=True)
class Login:
    actor: Actor
    must_change: bool


def _marker(data_dir: Path, username: str) -> Path:
    return Path(data_dir) / MUST_CHANGE_DIR / username


def login(
    store: Store,
    session: dict[str, Any],
    username: str,
    password: str,
    *,
    throttle: LoginThrottle,
    data_dir: Path,
    lifetime_s: int,
) -> Login | None:
    """Check the password; on success start a fresh browser session for the user."""
    with store.session() as db:
        if SERVICE_LOGINS:
            try:
                actor: Actor = _users.authenticate(db, username, password)
            except AuthFailed:
                return None
            issued = _auth.issue_token(
                db, actor, lifetime=timedelta(seconds=lifetime_s), kind="web"
            )
            user = db.get(User, actor.id)
            must = bool(getattr(user, "must_change_password", False))
            db.commit()
            session.clear()
            session[TOKEN_KEY] = issued.token
            return Login(actor, must)
        if throttle.locked(username):
            return None
        found: Actor | None = _users.authenticate(db, username, password)
        if found is None:
            throttle.failed(username)
            return None
        throttle.succeeded(username)
        session.clear()
        session[UID_KEY] = found.id
        return Login(found, _marker(data_dir, found.username).exists())


def resolve(db: Session, session: dict[str, Any], data_dir: Path) -> tuple[Actor, bool] | None:
    """The signed-in user of a browser session and whether a password change is pending."""
    if SERVICE_LOGINS:
        token = session.get(TOKEN_KEY)
        if not isinstance(token, str):
            return None
        try:
            actor: Actor = _auth.verify_token(db, token, allow_password_change=True)
        except AuthFailed:
            session.clear()
            return None
        user = db.get(User, actor.id)
        return actor, bool(getattr(user, "must_change_password", False))
    uid = session.get(UID_KEY)
    if not isinstance(uid, int):
        return None
    row = db.get(User, uid)
    if row is None or not row.active:
        session.clear()
        return None
    return Actor(row.id, row.username, Role(row.role)), _marker(data_dir, row.username).exists()


def logout(store: Store, session: dict[str, Any]) -> None:
    token = session.get(TOKEN_KEY)
    if SERVICE_LOGINS and isinstance(token, str):
        with store.session() as db:
            _auth.revoke_token(db, token)
            db.commit()
    session.clear()


def bootstrap_admin(db: Session, data_dir: Path) -> str | None:
    """On an empty user table: the first admin with a one-time password (returned once, to be
    changed at the first login). None when users exist."""
    if SERVICE_LOGINS:
        password: str | None = _users.bootstrap_admin(db)
        return password
    if _users.count_users(db) > 0:
        return None
    password = secrets.token_urlsafe(18)
    from pydantic import SecretStr

    _users.create_user(
        db,
        None,
        _users.UserCreate(
            username=FIRST_ADMIN,
            full_name="Administrator",
            role=Role.ADMIN,
            password=SecretStr(password),
        ),
    )
    marker = _marker(data_dir, FIRST_ADMIN)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    return password


def change_password(
    db: Session, session: dict[str, Any], actor: Actor, current: str, new: str, data_dir: Path
) -> None:
    """The user's own password change (the current password must match); commits."""
    if SERVICE_LOGINS:
        token = session.get(TOKEN_KEY)
        try:
            _users.change_password(
                db, actor, current, new, keep_token=token if isinstance(token, str) else None
            )
        except AuthFailed:
            raise InputError("current_password", "does not match") from None
        return
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    user = db.get(User, actor.id)
    if user is None or not user.active:
        raise InputError("user", "not an active user")
    hasher = PasswordHasher()
    try:
        hasher.verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise InputError("current_password", "does not match") from None
    if len(new) < _users.MIN_PASSWORD_LENGTH:
        raise InputError("new_password", f"at least {_users.MIN_PASSWORD_LENGTH} characters")
    if new == current:
        raise InputError("new_password", "must differ from the current one")
    act_as(db, actor)
    user.password_hash = hasher.hash(new)
    user.updated_at = utcnow()
    db.commit()
    _marker(data_dir, actor.username).unlink(missing_ok=True)
