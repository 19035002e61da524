"""Rendering pages: every template gets the user, the language, the CSRF token and flashes."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.templating import _TemplateResponse

from spinecare.services.auth import Actor
from spinecare.web.deps import get_ctx, lang_of
from spinecare.web.i18n import CI_TITLES_DE, phase_label, translator
from spinecare.web.security import csrf_token

FLASH_KEY = "flash"


def flash(request: Request, message: str, kind: str = "info") -> None:
    items = request.session.get(FLASH_KEY)
    queue = items if isinstance(items, list) else []
    queue.append([kind, message])
    request.session[FLASH_KEY] = queue[-5:]


def page(
    request: Request,
    template: str,
    user: Actor | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    ctx = get_ctx(request)
    lang = lang_of(request)
    flashes = request.session.pop(FLASH_KEY, None) or []
    data = {
        "request": request,
        "user": user,
        "lang": lang,
        "_": translator(lang),
        "phase_label": lambda p: phase_label(p, lang),
        "ci_title": lambda code, title: CI_TITLES_DE.get(code, title) if lang == "de" else title,
        "csrf": csrf_token(request.session),
        "flashes": flashes,
        "clinic_name": ctx.settings.clinic.name,
        "path": request.url.path,
        **context,
    }
    response: _TemplateResponse = ctx.templates.TemplateResponse(
        request, template, data, status_code=status_code
    )
    return response


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)
