"""Users and their roles; argon2id password hashes; no default password anywhere."""

from __future__ import annotations

import re
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spinecare.errors import InputError
from spinecare.services._common import act_as, load, utcnow
from spinecare.services.auth import USER_ADMINS, Actor, require_admin
from spinecare.services.errors import NotFoundError, PermissionDeniedError
from spinecare.store.audit import set_actor
from spinecare.store.enums import Role
from spinecare.store.models import User

# Minimum password length: NIST SP 800-63B (section 5.1.1.2) asks for at least 8 characters
# [nist-sp800-63b].
MIN_PASSWORD_LENGTH = 8
BOOTSTRAP_ACTOR = "bootstrap"
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")

# argon2id with the library's RFC 9106 low-memory profile (its default) [rfc9106]. Tests swap in
# a cheap profile with ``use_password_hasher``; production code never does.
_hasher = PasswordHasher()
_dummy_hash: str | None = None


def use_password_hasher(hasher: PasswordHasher) -> PasswordHasher:
    """Replace the hasher (tests only: hashing at full cost dominates test time); returns the
    previous one."""
    global _hasher, _dummy_hash
    previous, _hasher, _dummy_hash = _hasher, hasher, None
    return previous


def _dummy() -> str:
    """A hash verified against when the username is unknown, so both failures cost the same."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("not-a-password-only-for-timing")
    return _dummy_hash


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=2, max_length=64)
    full_name: str = Field(default="", max_length=200)
    role: Role
    password: SecretStr

    @field_validator("username")
    @classmethod
    def _username(cls, v: str) -> str:
        u = v.strip().lower()
        if not _USERNAME.match(u):
            raise ValueError("use 2-64 characters: a-z, 0-9, '.', '_', '-'")
        return u

    @field_validator("password")
    @classmethod
    def _password(cls, v: SecretStr) -> SecretStr:
        if len(v.get_secret_value()) < MIN_PASSWORD_LENGTH:
            raise ValueError(f"at least {MIN_PASSWORD_LENGTH} characters")
        return v


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    full_name: str
    role: Role
    active: bool
    created_at: datetime


def count_users(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def create_user(
    session: Session, actor: Actor | None, data: UserCreate, *, now: datetime | None = None
) -> UserPublic:
    """Create a user. Without an actor only the very first user (bootstrap) may be created,
    and it must be an admin or physician; afterwards admins and physicians create users."""
    if actor is None:
        if count_users(session) > 0:
            raise PermissionDeniedError("(nobody)", "-", "create users once users exist")
        if data.role not in USER_ADMINS:
            raise InputError("role", "the first user must be an admin or a physician", data.role)
        set_actor(session, BOOTSTRAP_ACTOR)
    else:
        require_admin(actor)
        act_as(session, actor)
    if session.scalar(select(User.id).where(User.username == data.username)) is not None:
        raise InputError("username", "already taken", data.username)
    user = User(
        username=data.username,
        full_name=data.full_name.strip() or data.username,
        role=data.role.value,
        password_hash=_hasher.hash(data.password.get_secret_value()),
        active=True,
        created_at=utcnow(now),
    )
    session.add(user)
    session.flush()
    return UserPublic.model_validate(user)


def authenticate(session: Session, username: str, password: str) -> Actor | None:
    """The actor if the password matches an active user, else None (no reason given)."""
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    try:
        _hasher.verify(user.password_hash if user else _dummy(), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    return Actor(user.id, user.username, Role(user.role))


def actor_for(session: Session, username: str) -> Actor:
    """The active user named ``username`` (the CLI's ``--as``)."""
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFoundError("user", username)
    if not user.active:
        raise PermissionDeniedError(user.username, user.role, "act (account deactivated)")
    return Actor(user.id, user.username, Role(user.role))


def list_users(session: Session, actor: Actor) -> list[UserPublic]:
    require_admin(actor)
    return [UserPublic.model_validate(u) for u in session.scalars(select(User).order_by(User.id))]


def set_active(
    session: Session, actor: Actor, user_id: int, active: bool, *, now: datetime | None = None
) -> UserPublic:
    """Deactivate instead of deleting: the audit log keeps naming the user."""
    require_admin(actor)
    act_as(session, actor)
    user = load(session, User, user_id, "user")
    user.active = active
    user.updated_at = utcnow(now)
    session.flush()
    return UserPublic.model_validate(user)
