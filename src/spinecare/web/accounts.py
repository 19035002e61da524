"""Browser logins on the users service: a login issues a token (kept in the signed session
cookie, verified on every request, revoked at logout and by a password change); lockout, the
first admin's one-time password and the forced change are the service's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from spinecare.errors import InputError
from spinecare.services import users as user_svc
from spinecare.services.auth import Actor, issue_token, revoke_token, verify_token
from spinecare.services.errors import AuthenticationError
from spinecare.store import Store
from spinecare.store.models import User

FIRST_ADMIN = user_svc.FIRST_ADMIN
TOKEN_KEY = "token"


def login(
    store: Store, session: dict[str, Any], username: str, password: str, *, lifetime_s: int
) -> tuple[Actor, bool] | None:
    """Check the password (the service counts failures and locks); on success start a fresh
    browser session. Returns the actor and whether a password change is pending."""
    with store.session() as db:
        try:
            actor = user_svc.authenticate(db, username, password)  # commits itself
        except AuthenticationError:
            return None
        issued = issue_token(db, actor, lifetime=timedelta(seconds=lifetime_s), kind="web")
        user = db.get(User, actor.id)
        must = bool(user is not None and user.must_change_password)
        db.commit()
    session.clear()
    session[TOKEN_KEY] = issued.token
    return actor, must


def resolve(db: Session, session: dict[str, Any]) -> tuple[Actor, bool] | None:
    """The signed-in user of a browser session and whether a password change is pending."""
    token = session.get(TOKEN_KEY)
    if not isinstance(token, str):
        return None
    try:
        actor = verify_token(db, token, allow_password_change=True)
    except AuthenticationError:
        session.clear()
        return None
    user = db.get(User, actor.id)
    return actor, bool(user is not None and user.must_change_password)


def logout(store: Store, session: dict[str, Any]) -> None:
    token = session.get(TOKEN_KEY)
    if isinstance(token, str):
        with store.session() as db:
            revoke_token(db, token)
            db.commit()
    session.clear()


def bootstrap_admin(db: Session) -> str | None:
    """The first admin's one-time password on an empty database (None when users exist)."""
    return user_svc.bootstrap_admin(db)


def change_password(
    db: Session, session: dict[str, Any], actor: Actor, current: str, new: str
) -> None:
    """The user's own password change; ends the user's other logins, keeps this one."""
    token = session.get(TOKEN_KEY)
    try:
        user_svc.change_password(
            db, actor, current, new, keep_token=token if isinstance(token, str) else None
        )
    except AuthenticationError:
        raise InputError("current_password", "does not match") from None
