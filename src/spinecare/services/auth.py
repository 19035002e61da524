"""Who is acting, what each role may do, and logins (tokens) for every face.

Small functions rather than a framework so the web app can use them as dependencies
(``Depends(...)``) and the CLI can call them directly. Each ``require_*`` check returns the actor.

Logins: a face that has established who the user is (``services.users.authenticate``, a
password check with lockout) gets a token from :func:`issue_token` and hands it back on every
request; :func:`verify_token` turns it into the :class:`Actor` (role read afresh each time),
:func:`revoke_token` ends it. Only the token's SHA-256 is stored: a copy of the database does not
hold a usable login. Tokens expire (CLI: ``SPINECARE_LOGIN_HOURS``; web: the app's choice).

This module imports SQLAlchemy only inside the token functions: the CLI imports it at start-up.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from spinecare.services.errors import (
    AuthenticationError,
    PasswordChangeRequired,
    PermissionDeniedError,
)
from spinecare.store.enums import Role

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated user a change is attributed to (from a verified login)."""

    id: int
    username: str
    role: Role


class Privilege(enum.StrEnum):
    READ = "read clinical data"
    CLINICAL_WRITE = "change clinical data"
    MEDICAL = "make medical decisions"
    BILL = "bill"
    MANAGE_USERS = "manage users"
    ADMINISTER = "administer the database"


# What each role holds. Clinical data (patients, findings, sessions, outcomes): the treating
# team; billing staff read clinical data for invoices but never change it. Medical decisions
# (screening decisions, diagnoses, prescribing, deleting a patient): physicians. Billing: the
# billing office and physicians (a small practice bills itself). User accounts: admins, and
# physicians (in a small practice the owner is the physician). The database itself (backup,
# restore, downgrade): admins only.
ROLE_PRIVILEGES: dict[Role, frozenset[Privilege]] = {
    Role.ADMIN: frozenset(Privilege),
    Role.PHYSICIAN: frozenset(
        {
            Privilege.READ,
            Privilege.CLINICAL_WRITE,
            Privilege.MEDICAL,
            Privilege.BILL,
            Privilege.MANAGE_USERS,
        }
    ),
    Role.THERAPIST: frozenset({Privilege.READ, Privilege.CLINICAL_WRITE}),
    Role.BILLING: frozenset({Privilege.READ, Privilege.BILL}),
}


def _holders(privilege: Privilege) -> frozenset[Role]:
    return frozenset(r for r, held in ROLE_PRIVILEGES.items() if privilege in held)


CLINICAL_WRITERS = _holders(Privilege.CLINICAL_WRITE)
PHYSICIAN_ROLES = _holders(Privilege.MEDICAL)
BILLING_ROLES = _holders(Privilege.BILL)
USER_ADMINS = _holders(Privilege.MANAGE_USERS)
READERS = _holders(Privilege.READ)


def require_role(actor: Actor, allowed: frozenset[Role], action: str) -> Actor:
    if actor.role not in allowed:
        raise PermissionDeniedError(actor.username, actor.role.value, action)
    return actor


def require_reader(actor: Actor) -> Actor:
    return require_role(actor, READERS, "read clinical data")


def require_clinical_writer(actor: Actor) -> Actor:
    return require_role(actor, CLINICAL_WRITERS, "change clinical data")


def require_physician(actor: Actor, action: str = "make a medical decision") -> Actor:
    return require_role(actor, PHYSICIAN_ROLES, action)


def require_admin(actor: Actor) -> Actor:
    """Manage user accounts (admins, physicians)."""
    return require_role(actor, USER_ADMINS, "manage users")


def require_database_admin(actor: Actor, action: str = "administer the database") -> Actor:
    """Back up, restore or downgrade the database: admins only."""
    return require_role(actor, _holders(Privilege.ADMINISTER), action)


def can_grant(actor: Actor, role: Role) -> bool:
    """A role grants only what it holds: ``actor`` may give (or manage) ``role`` when it may
    manage users and holds every privilege of ``role``. Only an admin makes an admin."""
    held = ROLE_PRIVILEGES[actor.role]
    return Privilege.MANAGE_USERS in held and ROLE_PRIVILEGES[role] <= held


def require_grant(actor: Actor, role: Role, action: str = "") -> Actor:
    require_admin(actor)
    if not can_grant(actor, role):
        raise PermissionDeniedError(
            actor.username, actor.role.value, action or f"grant the role {role.value}"
        )
    return actor


# --- tokens ----------------------------------------------------------------------------------

# 256 random bits [nist-sp800-63b]: guessing one is not a threat; only the hash is stored.
TOKEN_BYTES = 32
TOKEN_PREFIX = "sc1_"
# Lifetimes a face may ask for: five minutes to a week.
MIN_LIFETIME = timedelta(minutes=5)
MAX_LIFETIME = timedelta(days=7)


def _invalid() -> AuthenticationError:
    return AuthenticationError(
        "your login is not valid (expired, ended or unknown)", "log in again: spinecare login"
    )


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new login: hand ``token`` to the client once; only its hash is kept."""

    token: str
    expires_at: datetime
    actor: Actor


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def issue_token(
    session: Session,
    actor: Actor,
    *,
    lifetime: timedelta = timedelta(hours=8),
    kind: str = "cli",
    now: datetime | None = None,
) -> IssuedToken:
    """Record a login of ``actor`` (already authenticated) and return its token."""
    from sqlalchemy import delete, or_

    from spinecare.store.models import AuthToken

    if not MIN_LIFETIME <= lifetime <= MAX_LIFETIME:
        raise ValueError(f"token lifetime {lifetime} outside {MIN_LIFETIME}..{MAX_LIFETIME}")
    stamp = now or datetime.now(UTC)
    # Logins of this user that ended more than a day ago are of no use to anyone: forget them.
    stale = stamp - timedelta(days=1)
    session.execute(
        delete(AuthToken).where(
            AuthToken.user_id == actor.id,
            or_(AuthToken.expires_at < stale, AuthToken.revoked_at < stale),
        )
    )
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    row = AuthToken(
        user_id=actor.id,
        token_hash=token_hash(token),
        kind=kind,
        created_at=stamp,
        expires_at=stamp + lifetime,
    )
    session.add(row)
    session.flush()
    return IssuedToken(token, row.expires_at, actor)


def verify_token(
    session: Session,
    token: str,
    *,
    allow_password_change: bool = False,
    now: datetime | None = None,
) -> Actor:
    """The actor of a valid login. Raises :class:`AuthenticationError` when the token is
    unknown, expired, revoked or its user deactivated, and :class:`PasswordChangeRequired`
    while the user still has a one-time password (unless ``allow_password_change``: the
    password change itself). Reads only: works on a read-only database."""
    from sqlalchemy import select

    from spinecare.store.models import AuthToken, User

    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise _invalid()
    stamp = now or datetime.now(UTC)
    row = session.execute(
        select(AuthToken, User)
        .join(User, User.id == AuthToken.user_id)
        .where(AuthToken.token_hash == token_hash(token))
    ).first()
    if row is None:
        raise _invalid()
    tok, user = row
    if tok.revoked_at is not None or tok.expires_at <= stamp or not user.active:
        raise _invalid()
    if user.must_change_password and not allow_password_change:
        raise PasswordChangeRequired(user.username)
    return Actor(user.id, user.username, Role(user.role))


def token_expiry(session: Session, token: str) -> datetime | None:
    """When a token expires (None: unknown token)."""
    from sqlalchemy import select

    from spinecare.store.models import AuthToken

    return session.scalar(
        select(AuthToken.expires_at).where(AuthToken.token_hash == token_hash(token))
    )


def revoke_token(session: Session, token: str, *, now: datetime | None = None) -> bool:
    """End one login (logout). True when a live token was ended."""
    from sqlalchemy import update

    from spinecare.store.models import AuthToken

    result = session.execute(
        update(AuthToken)
        .where(AuthToken.token_hash == token_hash(token), AuthToken.revoked_at.is_(None))
        .values(revoked_at=now or datetime.now(UTC))
    )
    return bool(getattr(result, "rowcount", 0))


def revoke_user_tokens(
    session: Session,
    user_id: int,
    *,
    keep: str | None = None,
    now: datetime | None = None,
) -> int:
    """End every login of a user (password changed or reset, account deactivated), except the
    token ``keep`` (the one the change was made with). Returns how many were ended."""
    from sqlalchemy import update

    from spinecare.store.models import AuthToken

    stmt = update(AuthToken).where(AuthToken.user_id == user_id, AuthToken.revoked_at.is_(None))
    if keep is not None:
        stmt = stmt.where(AuthToken.token_hash != token_hash(keep))
    result = session.execute(stmt.values(revoked_at=now or datetime.now(UTC)))
    return int(getattr(result, "rowcount", 0))
