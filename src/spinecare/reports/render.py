"""HTML templates (Jinja2) to PDF (WeasyPrint).

Templates are looked up first in a clinic's own directory, then in the packaged
``reports/templates``: a clinic copies only the files it wants to change (say ``style.css`` for
its letterhead, or ``texts_de.json`` for its wording) and points ``template_dir`` at the copy, or
sets ``SPINECARE_TEMPLATE_DIR``. Texts from the clinic's ``texts_<lang>.json`` are merged over
the packaged ones, so one changed sentence is enough.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from spinecare.errors import InputError
from spinecare.reports.i18n import (
    check_lang,
    format_date,
    format_decimal,
    format_factor,
    format_money,
)
from spinecare.settings import ClinicSettings

PACKAGED_TEMPLATES = Path(__file__).with_name("templates")
TEMPLATE_DIR_ENV = "SPINECARE_TEMPLATE_DIR"


@dataclass(frozen=True, slots=True)
class ClinicInfo:
    """Letterhead and issuer of the documents (§12 GOÄ [goae]: the invoice names who bills;
    §14(4) UStG [ustg]: and its tax number)."""

    name: str = "spinecare clinic"
    address: tuple[str, ...] = ()
    doctor: str = ""
    contact: str = ""
    bank: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)
    physicians: tuple[str, ...] = ()
    tax_number: str = ""
    # Bank details as printed lines ("IBAN DE89 ...", "BIC ...").
    bank_lines: tuple[str, ...] = ()
    # A file URI of the clinic's logo, or "".
    logo: str = ""

    @classmethod
    def from_settings(cls, clinic: ClinicSettings) -> ClinicInfo:
        """The letterhead from the clinic settings (settings file and environment)."""
        contact = " · ".join(x for x in (clinic.phone, clinic.email, clinic.website) if x)
        bank_lines: tuple[str, ...] = ()
        if clinic.bank is not None:
            b = clinic.bank
            bank_lines = tuple(
                x
                for x in (b.holder, b.bank, f"IBAN {b.iban}", f"BIC {b.bic}" if b.bic else "")
                if x
            )
        return cls(
            name=clinic.name,
            address=tuple(clinic.address),
            doctor=clinic.physicians[0] if clinic.physicians else "",
            contact=contact,
            physicians=tuple(clinic.physicians),
            tax_number=clinic.tax_number,
            bank_lines=bank_lines,
            logo=clinic.logo.as_uri() if clinic.logo else "",
        )


def resolve_template_dir(template_dir: Path | str | None = None) -> Path | None:
    """The clinic's override directory: the argument, else ``$SPINECARE_TEMPLATE_DIR``."""
    raw = template_dir if template_dir is not None else os.environ.get(TEMPLATE_DIR_ENV) or None
    if raw is None:
        return None
    path = Path(raw).expanduser()
    if not path.is_dir():
        raise InputError("template_dir", "not a directory", str(path))
    return path


def environment(template_dir: Path | str | None = None) -> jinja2.Environment:
    override = resolve_template_dir(template_dir)
    loaders: list[jinja2.BaseLoader] = []
    if override is not None:
        loaders.append(jinja2.FileSystemLoader(str(override)))
    loaders.append(jinja2.FileSystemLoader(str(PACKAGED_TEMPLATES)))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["_override_dir"] = str(override) if override else ""
    return env


def load_texts(lang: str, template_dir: Path | str | None = None) -> dict[str, Any]:
    """Packaged texts for ``lang`` with the clinic's texts merged over them."""
    lang = check_lang(lang)
    name = f"texts_{lang}.json"
    texts: dict[str, Any] = json.loads((PACKAGED_TEMPLATES / name).read_text("utf-8"))
    override = resolve_template_dir(template_dir)
    if override is not None and (override / name).is_file():
        try:
            texts.update(json.loads((override / name).read_text("utf-8")))
        except json.JSONDecodeError as exc:
            raise InputError(str(override / name), f"not valid JSON: {exc.msg}") from None
    return texts


def render_html(
    template: str,
    context: Mapping[str, Any],
    *,
    lang: str = "de",
    template_dir: Path | str | None = None,
) -> str:
    lang = check_lang(lang)
    env = environment(template_dir)

    def money(v: Any) -> str:
        return format_money(v, lang)

    def factor(v: Any) -> str:
        return format_factor(v, lang)

    def num(v: Any, places: int = 1) -> str:
        return format_decimal(v, lang, places)

    def day(v: Any) -> str:
        return format_date(v, lang)

    env.filters.update(money=money, factor=factor, num=num, date=day)
    texts = load_texts(lang, template_dir)
    return env.get_template(template).render(lang=lang, t=texts, **context)


def write_pdf(html: str, out: Path | str) -> Path:
    """Render ``html`` to a PDF file; returns the path written."""
    import weasyprint  # imported late: loading pango costs ~0.3 s and only documents need it

    path = Path(out)
    if path.parent and not path.parent.exists():
        raise InputError("out", "directory does not exist", str(path.parent))
    weasyprint.HTML(string=html, base_url=str(PACKAGED_TEMPLATES)).write_pdf(str(path))
    return path


def render_pdf(
    template: str,
    context: Mapping[str, Any],
    out: Path | str,
    *,
    lang: str = "de",
    template_dir: Path | str | None = None,
) -> Path:
    return write_pdf(render_html(template, context, lang=lang, template_dir=template_dir), out)
