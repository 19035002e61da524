"""Request dependencies: the database session, the signed-in user, roles, CSRF.

As in the FastAPI template: ``DbDep`` and ``CurrentUser`` are ``Annotated`` dependencies; a
route names who may call it with ``dependencies=[allow(...)]`` so the access matrix is declared
where the route is, and checked before any data is loaded (the services check again).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from spinecare.services.auth import Actor
from spinecare.services.errors import PermissionDeniedError
from spinecare.settings import Settings
from spinecare.store import Store
from spinecare.store.audit import AuditedSession
from spinecare.store.enums import Role
from spinecare.web.config import WebSettings
from spinecare.web.device import TableOnTheWire
from spinecare.web.live import LiveRegistry
from spinecare.web.security import CSRF_FIELD, CSRF_HEADER, csrf_ok

LANG_KEY = "lang"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class WebContext:
    """What the app holds for its lifetime (``app.state.ctx``)."""

    settings: Settings
    web: WebSettings
    store: Store
    live: LiveRegistry
    templates: Jinja2Templates
    data_dir: Path
    # The table on the wire this server drives (``spinecare serve --device``); None: simulated.
    table: TableOnTheWire | None = None


class LoginRequired(Exception):
    """No signed-in user: pages redirect to the login, the API answers 401."""


class PasswordChangePending(Exception):
    """Signed in with a one-time password: nothing but the password change until it is."""


class CsrfRejected(Exception):
    """An unsafe request without the browser session's CSRF token."""


def get_ctx(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.ctx
    return ctx


CtxDep = Annotated[WebContext, Depends(get_ctx)]


def get_db(ctx: CtxDep) -> Iterator[AuditedSession]:
    """One session per request; handlers that change data commit it themselves."""
    with ctx.store.session() as db:
        yield db


DbDep = Annotated[AuditedSession, Depends(get_db)]


def optional_user(request: Request, db: DbDep) -> Actor | None:
    from spinecare.web.accounts import resolve

    found = resolve(db, request.session)
    if found is None:
        return None
    actor, must_change = found
    request.state.must_change_password = must_change
    return actor


OptionalUser = Annotated[Actor | None, Depends(optional_user)]


def current_user(request: Request, user: OptionalUser) -> Actor:
    if user is None:
        raise LoginRequired()
    if getattr(request.state, "must_change_password", False) and request.url.path not in (
        "/account",
        "/logout",
    ):
        raise PasswordChangePending()
    return user


CurrentUser = Annotated[Actor, Depends(current_user)]


def allow(roles: frozenset[Role], action: str) -> Any:
    """A route dependency: signed in, and one of ``roles`` (else 401/redirect, 403)."""

    def check(user: CurrentUser) -> Actor:
        if user.role not in roles:
            raise PermissionDeniedError(user.username, user.role.value, action)
        return user

    return Depends(check)


async def csrf_protect(request: Request) -> None:
    """Every unsafe request carries the session's token: the ``X-CSRF-Token`` header (htmx,
    fetch, API clients) or the ``csrf_token`` form field (plain forms)."""
    if request.method not in UNSAFE:
        return
    submitted = request.headers.get(CSRF_HEADER)
    if not submitted:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            submitted = value if isinstance(value, str) else None
    if not csrf_ok(request.session, submitted):
        raise CsrfRejected()


def lang_of(request: Request) -> str:
    from spinecare.web.i18n import check_lang

    value = request.session.get(LANG_KEY)
    return check_lang(value if isinstance(value, str) else None)
