"""Rendering pages: every template gets the user, the language, the CSRF token and flashes."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.templating import _TemplateResponse

from spinecare.reports import labels as clinical
from spinecare.services.auth import Actor
from spinecare.web.deps import get_ctx, lang_of
from spinecare.web.i18n import (
    CI_TITLES_DE,
    audit_changes,
    error_text,
    flash_text,
    label,
    phase_label,
    reason_text,
    translator,
)
from spinecare.web.security import csrf_token

FLASH_KEY = "flash"


def flash(request: Request, message: str, kind: str = "info") -> None:
    items = request.session.get(FLASH_KEY)
    queue = items if isinstance(items, list) else []
    queue.append([kind, message])
    request.session[FLASH_KEY] = queue[-5:]


def missing_lines(result: Any, lang: str) -> list[str]:
    """The findings screening still needs, one line each (title: what is missing), in the
    page's language."""
    from spinecare.clinical.contraindications import RULES

    titles = {r.code: r.title for r in RULES}
    out: list[str] = []
    for m in result.missing:
        title = titles.get(m.code, m.code)
        if lang == "de":
            title = CI_TITLES_DE.get(m.code, title)
        line = f"{title}: {clinical.finding_text(m.reason, lang)}"
        if line not in out:
            out.append(line)
    return out


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
        # code values and clinical texts in the page's language (reports/labels.py)
        "label": lambda kind, value: label(kind, value, lang),
        "ctext": lambda text: clinical.clinical_text(text, lang),
        "finding": lambda text: clinical.finding_text(text, lang),
        "end_reason": lambda text: clinical.end_reason(text, lang),
        "stop_reason": lambda text: clinical.stop_reason(text, lang),
        "num": lambda value: clinical.de_number(str(value)) if lang == "de" else str(value),
        "clinical": clinical,
        "missing_lines": lambda result: missing_lines(result, lang),
        "error_text": lambda text: error_text(text, lang),
        "reason_text": lambda text: reason_text(text, lang),
        "flash_text": lambda text: flash_text(text, lang),
        "audit_changes": lambda entry: audit_changes(entry, lang),
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
