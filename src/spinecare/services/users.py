"""User accounts: the first admin, passwords (argon2id), lockout, roles; no default password.

For every face (CLI and web app):

- :func:`bootstrap_admin` creates the very first user, an admin with a one-time password that
  it returns once (None when users exist already); the password must be changed at first login.
- :func:`authenticate` checks a username and password and returns the :class:`Actor`, or raises
  ``AuthenticationError`` with one message for every failure (unknown user, wrong password,
  deactivated, locked). After ``MAX_FAILED_LOGINS`` consecutive failures the account is locked
  for ``LOCKOUT``. It commits the session itself: a failed attempt must count even though the
  call raises, so call it in a session of its own.
- :func:`change_password` (the user's own, with the current password) and
  :func:`reset_password` (by an admin: a new one-time password) end the user's other logins.
- A role can grant only what it holds (``services.auth.can_grant``): a physician may create
  therapists, billing staff and physicians, only an admin creates or manages an admin.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from spinecare.errors import InputError
from spinecare.services._common import act_as, load, utcnow
from spinecare.services.auth import (
    Actor,
    require_admin,
    require_grant,
    revoke_user_tokens,
)
from spinecare.services.errors import AuthenticationError, NotFoundError, PermissionDeniedError
from spinecare.store.audit import lock_chain, record_event, set_actor
from spinecare.store.enums import AuditAction, Role
from spinecare.store.models import User
from spinecare.store.text import refuse_reason

# Minimum password length: NIST SP 800-63B (section 5.1.1.2) asks for at least 8 characters and
# to accept at least 64 [nist-sp800-63b]; 1024 bounds the work of hashing a pasted novel.
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
# Lockout: NIST SP 800-63B section 5.2.2 requires limiting consecutive failed attempts (to no
# more than 100) [nist-sp800-63b]; a clinic's staff need far fewer: 5 failures lock the
# account for 15 minutes, then the count starts again.
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
# One-time passwords: 18 random bytes, 24 URL-safe characters (144 bits).
ONE_TIME_PASSWORD_BYTES = 18
BOOTSTRAP_ACTOR = "bootstrap"
# The audit actor of what failed logins change (nobody is logged in then).
LOGIN_ACTOR = "login"
FIRST_ADMIN = "admin"
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


def normalise_username(value: str) -> str:
    u = value.strip().lower()
    if not _USERNAME.match(u):
        raise ValueError("use 2-64 characters: a-z, 0-9, '.', '_', '-'")
    return u


def check_password(value: str) -> str:
    """A password a user may choose; raises ValueError with the reason."""
    if len(value) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"needs at least {MIN_PASSWORD_LENGTH} characters: choose a longer one")
    if len(value) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"at most {MAX_PASSWORD_LENGTH} characters: choose a shorter one")
    reason = refuse_reason(value)
    if reason is not None:
        raise ValueError(reason.split(" (")[0])  # never echo a password's characters
    if len(set(value.strip())) < 2:  # eight spaces, "aaaaaaaa": guessed first
        raise ValueError("needs at least two different characters besides spaces")
    return value


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=2, max_length=64)
    full_name: str = Field(default="", max_length=200)
    role: Role
    password: SecretStr

    @field_validator("username")
    @classmethod
    def _username(cls, v: str) -> str:
        return normalise_username(v)

    @field_validator("full_name")
    @classmethod
    def _full_name(cls, v: str) -> str:
        reason = refuse_reason(v)
        if reason is not None:
            raise ValueError(reason)
        return v.strip()

    @field_validator("password")
    @classmethod
    def _password(cls, v: SecretStr) -> SecretStr:
        check_password(v.get_secret_value())
        return v


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    full_name: str
    role: Role
    active: bool
    must_change_password: bool = False
    created_at: datetime
    locked_until: datetime | None = None  # after failed logins (the lock is on the audit record)


def count_users(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def _new_user(
    session: Session, username: str, full_name: str, role: Role, password: str, stamp: datetime
) -> User:
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise InputError("username", "already taken: choose another name", username)
    user = User(
        username=username,
        full_name=full_name.strip() or username,
        role=role.value,
        password_hash=_hasher.hash(password),
        active=True,
        must_change_password=False,
        failed_logins=0,
        created_at=stamp,
    )
    session.add(user)
    return user


def create_user(
    session: Session, actor: Actor, data: UserCreate, *, now: datetime | None = None
) -> UserPublic:
    """Create a user: admins and physicians, granting only a role they hold (only an admin
    makes an admin). The first user comes from :func:`bootstrap_admin`.

    The password is one-time: whoever created the account knows it, so it must be changed at
    the first login (as after a reset); otherwise the creator could act as the user for as
    long as the password stood."""
    require_grant(actor, data.role, f"create a user with the role {data.role.value}")
    act_as(session, actor)
    user = _new_user(
        session,
        data.username,
        data.full_name,
        data.role,
        data.password.get_secret_value(),
        utcnow(now),
    )
    user.must_change_password = True
    session.flush()
    return UserPublic.model_validate(user)


def one_time_password() -> str:
    return secrets.token_urlsafe(ONE_TIME_PASSWORD_BYTES)


def bootstrap_admin(
    session: Session, *, username: str = FIRST_ADMIN, now: datetime | None = None
) -> str | None:
    """Create the first user, an admin, on an empty database and return its one-time password
    (shown once; it must be changed at the first login). None when any user exists already.

    Runs under the audit chain's lock, so two processes bootstrapping at once create one admin.
    The caller commits."""
    name = normalise_username(username)
    set_actor(session, BOOTSTRAP_ACTOR)
    lock_chain(session)
    if count_users(session) > 0:
        return None
    password = one_time_password()
    user = _new_user(session, name, name, Role.ADMIN, password, utcnow(now))
    user.must_change_password = True
    session.flush()
    return password


def _verify(user: User | None, password: str) -> bool:
    try:
        return bool(_hasher.verify(user.password_hash if user else _dummy(), password))
    except (VerificationError, InvalidHashError):
        return False


def _login_failed() -> AuthenticationError:
    return AuthenticationError(
        "login failed: wrong username or password, or the account is locked after "
        f"{MAX_FAILED_LOGINS} failed attempts",
        f"try again (a locked account opens again after {int(LOCKOUT.total_seconds() // 60)} "
        "minutes) or ask an administrator",
    )


def authenticate(
    session: Session, username: str, password: str, *, now: datetime | None = None
) -> Actor:
    """The actor whose username and password these are; raises ``AuthenticationError``
    otherwise (one message for every reason, so it tells nobody which usernames exist).

    Counts failures: the ``MAX_FAILED_LOGINS``-th consecutive one locks the account for
    ``LOCKOUT``; while locked even the right password is refused. Commits the session."""
    stamp = utcnow(now)
    try:
        name = normalise_username(username)
    except ValueError:
        _verify(None, password)  # same cost as a real attempt
        raise _login_failed() from None
    user = session.scalar(select(User).where(User.username == name))
    locked = user is not None and user.locked_until is not None and user.locked_until > stamp
    ok = _verify(None if locked else user, password) and not locked
    if user is None or not ok or not user.active:
        if user is not None and not locked:
            _count_failure(session, user, stamp)
        session.commit()
        raise _login_failed()
    if user.failed_logins or user.locked_until is not None:
        user.failed_logins = 0
        user.locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        set_actor(session, user.username)
        user.password_hash = _hasher.hash(password)
        user.updated_at = stamp
    session.commit()
    return Actor(user.id, user.username, Role(user.role))


def authenticate_old_schema(session: Session, username: str, password: str) -> Actor:
    """Check a password against a database whose schema predates logins (below migration
    0004: no tokens, no lockout columns), e.g. to authorise a further ``db downgrade``.
    Raises ``AuthenticationError`` like :func:`authenticate` (without counting failures)."""
    from sqlalchemy import text

    try:
        name = normalise_username(username)
    except ValueError:
        _verify(None, password)
        raise _login_failed() from None
    row = session.execute(
        text("SELECT id, username, role, password_hash, active FROM users WHERE username = :u"),
        {"u": name},
    ).first()
    user = None if row is None else User(password_hash=row.password_hash)
    if row is None or not _verify(user, password) or not row.active:
        raise _login_failed()
    return Actor(int(row.id), str(row.username), Role(row.role))


def _count_failure(session: Session, user: User, stamp: datetime) -> None:
    # In SQL (failed_logins + 1): two guesses at once both count.
    session.execute(
        update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1)
    )
    session.refresh(user, ["failed_logins"])
    if user.failed_logins >= MAX_FAILED_LOGINS:
        until = stamp + LOCKOUT
        session.execute(
            update(User).where(User.id == user.id).values(failed_logins=0, locked_until=until)
        )
        # A lock is a change to the account: on the record, with who caused it as far as is
        # known (nobody logged in: the login form). Single failures are not (an attacker
        # would fill the append-only log).
        set_actor(session, LOGIN_ACTOR)
        record_event(
            session,
            User.__tablename__,
            user.id,
            AuditAction.UPDATE,
            before={"locked_until": None},
            after={
                "locked_until": until.isoformat(),
                "reason": f"{MAX_FAILED_LOGINS} failed logins in a row",
            },
        )


def change_password(
    session: Session,
    actor: Actor,
    current: str,
    new: str,
    *,
    keep_token: str | None = None,
    now: datetime | None = None,
) -> UserPublic:
    """The user's own password change: needs the current one (a wrong one counts as a failed
    login). Clears a one-time password's must-change flag and ends the user's other logins.
    Commits the session (the failure count must survive a wrong current password)."""
    try:
        check_password(new)
    except ValueError as exc:
        raise InputError("new password", str(exc)) from None
    authenticate(session, actor.username, current, now=now)  # commits; raises when wrong
    if new == current:
        raise InputError("new password", "must differ from the current one")
    stamp = utcnow(now)
    set_actor(session, actor.username)
    user = load(session, User, actor.id, "user")
    user.password_hash = _hasher.hash(new)
    user.must_change_password = False
    user.updated_at = stamp
    revoke_user_tokens(session, user.id, keep=keep_token, now=stamp)
    session.flush()
    out = UserPublic.model_validate(user)
    session.commit()
    return out


def _still_active(session: Session, actor: Actor) -> None:
    """Refuse an account change by a user deactivated since their request was authenticated.

    Read from the database under the writer lock, not from the session's copy of the row: two
    admins deactivating each other at the same moment would otherwise both succeed and leave
    the clinic without an admin (only an admin manages admins and the database)."""
    still = session.execute(select(User.active).where(User.id == actor.id)).scalar_one_or_none()
    if not still:
        raise PermissionDeniedError(actor.username, actor.role.value, "act (account deactivated)")


def _managed(session: Session, actor: Actor, username: str, action: str) -> User:
    """The user ``actor`` may manage (a role ``actor`` could grant)."""
    require_admin(actor)
    try:
        name = normalise_username(username)
    except ValueError as exc:
        raise InputError("username", str(exc), username) from None
    user = session.scalar(select(User).where(User.username == name))
    if user is None:
        raise NotFoundError("user", name)
    require_grant(actor, Role(user.role), f"{action} {user.username} ({user.role})")
    return user


def reset_password(
    session: Session, actor: Actor, username: str, *, now: datetime | None = None
) -> str:
    """Give a user a new one-time password (returned once) and end their logins; they must
    change it at their next login. Unlocks a locked account. The caller commits."""
    act_as(session, actor)
    _still_active(session, actor)
    user = _managed(session, actor, username, "reset the password of")
    if user.id == actor.id:
        raise InputError("username", "change your own password with spinecare passwd", username)
    stamp = utcnow(now)
    password = one_time_password()
    user.password_hash = _hasher.hash(password)
    user.must_change_password = True
    user.failed_logins = 0
    user.locked_until = None
    user.updated_at = stamp
    revoke_user_tokens(session, user.id, now=stamp)
    session.flush()
    return password


def actor_for(session: Session, username: str) -> Actor:
    """The active user named ``username``, *without* any authentication: for code that has
    established the user otherwise (tests, a verified token). Never a face's way in."""
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
    """Deactivate instead of deleting: the audit log keeps naming the user. Deactivating ends
    the user's logins. Only users whose role ``actor`` could grant."""
    require_admin(actor)
    act_as(session, actor)  # first: another admin may be changing accounts at the same moment
    _still_active(session, actor)
    user = load(session, User, user_id, "user")
    require_grant(actor, Role(user.role), f"change the account of {user.username} ({user.role})")
    if user.id == actor.id and not active:
        raise InputError("username", "you cannot deactivate your own account", user.username)
    stamp = utcnow(now)
    user.active = active
    user.updated_at = stamp
    if not active:
        revoke_user_tokens(session, user.id, now=stamp)
    session.flush()
    return UserPublic.model_validate(user)


def user_id_of(session: Session, actor: Actor, username: str) -> int:
    """The id of a user ``actor`` may manage."""
    return _managed(session, actor, username, "change the account of").id
