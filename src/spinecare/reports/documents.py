"""Invoice, cost estimate and consent form as PDFs.

Each document has a ``*_context`` function (plain data for the template, testable without
WeasyPrint) and a ``render_*`` function that writes the PDF.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from spinecare.billing import (
    DISCARDED_DRAFT,
    SELF_PAYER_SCALE,
    STANDARD_SCALE,
    Catalogue,
    Insurance,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Quote,
    default_catalogue,
    quote,
    scale_for,
)
from spinecare.errors import InputError
from spinecare.reports.i18n import check_lang
from spinecare.reports.render import ClinicInfo, load_texts, render_pdf

TemplateDir = Path | str | None


def _scale_label(scale: str, texts: dict[str, Any]) -> str:
    return str(texts.get(f"scale_{scale}", scale))


def _region_label(region: str, texts: dict[str, Any]) -> str:
    key = f"region_{region}"
    if key not in texts:
        raise InputError("region", "one of lumbar, cervical", region)
    return str(texts[key])


# --- invoice ---------------------------------------------------------------------------------


def _line_in(line: InvoiceLine, lang: str, catalogue: Catalogue) -> InvoiceLine:
    """The line's texts in ``lang`` when they are the catalogue's own texts of its service (an
    English invoice is English throughout, item texts too); a text the clinic wrote stays."""
    for svc in catalogue.services.values():
        if svc.number != line.number or svc.analog_of != line.analog_of:
            continue
        if line.description not in (svc.own_text("de"), svc.own_text("en")):
            continue
        item = svc.item
        return replace(
            line,
            description=svc.own_text(lang),
            equivalent=svc.equivalent(lang),
            min_duration=item.min_duration_en if lang == "en" else item.min_duration,
        )
    return line


def invoice_context(
    inv: Invoice, clinic: ClinicInfo, *, lang: str = "de", template_dir: TemplateDir = None
) -> dict[str, Any]:
    if inv.status is InvoiceStatus.CANCELLED and inv.number is None:
        # Engineering choice: refused rather than marked. A discarded draft was never sent and
        # never numbered; a PDF of it, mark or not, could be mistaken for a bill. The services
        # refuse it first (``services.invoices.load_invoice``, the same text); this guards any
        # other caller.
        raise InputError("invoice", DISCARDED_DRAFT)
    lang = check_lang(lang)
    texts = load_texts(lang, template_dir)
    title = texts["credit_note_title"] if inv.is_credit_note else texts["invoice_title"]
    catalogue = default_catalogue()
    inv = replace(inv, lines=tuple(_line_in(ln, lang, catalogue) for ln in inv.lines))
    return {
        "insurer": inv.recipient.insurer,
        "insurance_number": inv.recipient.insurance_number,
        "inv": inv,
        "clinic": clinic,
        "title": title,
        "period": inv.service_period,
        "scale_label": _scale_label(inv.scale, texts),
        "has_analog": any(ln.analog_of for ln in inv.lines),
    }


def render_invoice(
    inv: Invoice,
    out: Path | str,
    *,
    clinic: ClinicInfo | None = None,
    lang: str = "de",
    template_dir: TemplateDir = None,
) -> Path:
    """Write the invoice (or credit note) as a PDF in ``lang``, the catalogue's item texts
    included (whatever language the invoice was drafted in)."""
    clinic = clinic or ClinicInfo()
    ctx = invoice_context(inv, clinic, lang=lang, template_dir=template_dir)
    return render_pdf("invoice.html", ctx, out, lang=lang, template_dir=template_dir)


# --- cost estimate ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EstimateLine:
    label: str
    description: str
    equivalent: str | None
    points: int
    factor: Decimal
    amount: Decimal
    justification: str | None


@dataclass(frozen=True, slots=True)
class CostEstimate:
    """A planned course: region, N sessions, insurance -> fee scale and amounts."""

    region: str
    sessions: int
    insurance: Insurance
    issued_on: date
    patient_name: str | None = None
    patient_address: tuple[str, ...] = ()
    birth_date: date | None = None
    factors: dict[str, str] = field(default_factory=dict)
    justifications: dict[str, str] = field(default_factory=dict)

    def quote(self) -> Quote:
        return quote(
            self.region,
            self.sessions,
            scale_for(self.insurance),
            factors=self.factors,
            justifications=self.justifications,
        )


def estimate_context(
    est: CostEstimate, clinic: ClinicInfo, *, lang: str = "de", template_dir: TemplateDir = None
) -> dict[str, Any]:
    lang = check_lang(lang)
    texts = load_texts(lang, template_dir)
    q = est.quote()
    lines = [
        EstimateLine(
            label=ln.service.label,
            description=ln.service.own_text(lang),
            equivalent=ln.service.equivalent(lang),
            points=ln.points,
            factor=ln.factor,
            amount=ln.amount,
            justification=ln.justification,
        )
        for ln in q.lines
    ]
    self_payer = q.scale == SELF_PAYER_SCALE.name
    comparison = quote(est.region, 1, STANDARD_SCALE).session_total if self_payer else None
    return {
        "clinic": clinic,
        "quote": q,
        "lines": lines,
        "issued_on": est.issued_on,
        "patient_name": est.patient_name,
        "patient_address": est.patient_address,
        "birth_date": est.birth_date,
        "region_label": _region_label(q.region, texts),
        "insurance_label": texts[f"insurance_{est.insurance.value}"],
        "scale_label": _scale_label(q.scale, texts),
        "self_payer": self_payer,
        "comparison": comparison,
        "has_analog": any(ln.analog_of for ln in q.lines),
    }


def render_estimate(
    est: CostEstimate,
    out: Path | str,
    *,
    clinic: ClinicInfo | None = None,
    lang: str = "de",
    template_dir: TemplateDir = None,
) -> Path:
    ctx = estimate_context(est, clinic or ClinicInfo(), lang=lang, template_dir=template_dir)
    return render_pdf("estimate.html", ctx, out, lang=lang, template_dir=template_dir)


# --- consent ---------------------------------------------------------------------------------


def consent_context(
    region: str,
    clinic: ClinicInfo,
    *,
    patient_name: str | None = None,
    birth_date: date | None = None,
    patient_address: tuple[str, ...] = (),
    lang: str = "de",
    template_dir: TemplateDir = None,
) -> dict[str, Any]:
    texts = load_texts(lang, template_dir)
    return {
        "clinic": clinic,
        "patient_name": patient_name,
        "birth_date": birth_date,
        "patient_address": patient_address,
        "region_label": _region_label(str(region).lower(), texts),
        "lumbar_standard": quote("lumbar", 1, STANDARD_SCALE).session_total,
        "cervical_standard": quote("cervical", 1, STANDARD_SCALE).session_total,
        "lumbar_self": quote("lumbar", 1, SELF_PAYER_SCALE).session_total,
        "cervical_self": quote("cervical", 1, SELF_PAYER_SCALE).session_total,
    }


def render_consent(
    region: str,
    out: Path | str,
    *,
    clinic: ClinicInfo | None = None,
    patient_name: str | None = None,
    birth_date: date | None = None,
    patient_address: tuple[str, ...] = (),
    lang: str = "de",
    template_dir: TemplateDir = None,
) -> Path:
    ctx = consent_context(
        region,
        clinic or ClinicInfo(),
        patient_name=patient_name,
        birth_date=birth_date,
        patient_address=patient_address,
        lang=lang,
        template_dir=template_dir,
    )
    return render_pdf("consent.html", ctx, out, lang=lang, template_dir=template_dir)
