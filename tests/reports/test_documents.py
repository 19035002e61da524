"""Invoice, cost estimate and consent PDFs: they open, have the expected pages and hold the
required fields; German documents use German notation."""

from __future__ import annotations

import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from pdfutil import pages, text

from spinecare.billing import (
    Diagnosis,
    Insurance,
    Recipient,
    SessionService,
    cancel,
    draft_invoice,
    issue,
)
from spinecare.errors import InputError
from spinecare.reports.documents import (
    CostEstimate,
    render_consent,
    render_estimate,
    render_invoice,
)
from spinecare.reports.i18n import format_date, format_factor, format_money
from spinecare.reports.render import ClinicInfo, render_html

CLINIC = ClinicInfo("Wirbelsäulenzentrum Test", ("Klinikstraße 5", "80331 München"))
PATIENT = Recipient("Erika Mustermann", ("Hauptstr. 1", "80331 München"), "P-17")


def test_number_formats() -> None:
    assert format_money(Decimal("70.68"), "de") == "70,68 €"
    assert format_money(Decimal("1060.2"), "de") == "1.060,20 €"
    assert format_money(Decimal("-70.68"), "de") == "-70,68 €"
    assert format_money(Decimal("1060.20"), "en") == "€1,060.20"
    assert format_factor(Decimal("2.3"), "de") == "2,30"
    assert format_factor(Decimal("1.875"), "en") == "1.875"
    assert format_date(date(2025, 3, 3), "de") == "03.03.2025"
    assert format_date(date(2025, 3, 3), "en") == "3 Mar 2025"
    with pytest.raises(InputError, match="lang"):
        format_money(Decimal(1), "fr")


@pytest.mark.slow
def test_invoice_and_credit_note_pdfs(tmp_path: Path) -> None:
    inv = draft_invoice(
        PATIENT,
        [SessionService(date(2025, 3, 3), "lumbar"), SessionService(date(2025, 3, 5), "lumbar")],
        diagnosis=Diagnosis("M51.2", "Bandscheibenverlagerung"),
        diagnosis_consent=True,
        factors={"652": "2.5"},
        justifications={"652": "ausgeprägte Abwehrspannung"},
    )
    inv = issue(inv, "2025-00001", date(2025, 3, 8))
    pdf = render_invoice(inv, tmp_path / "inv.pdf", clinic=CLINIC)
    assert pages(pdf) == 1
    txt = text(pdf)
    for field in (
        "Rechnung 2025-00001",
        "08.03.2025",  # invoice date
        "03.03.2025",  # service dates (§12(2) no. 1)
        "05.03.2025",
        "538",
        "516 analog",
        "652 analog",  # §12(4)
        "analog Nr. 652 GOÄ",
        "Elektrokardiographische",  # the equivalent item's name
        "2,50",  # factor
        "64,84 €",
        "4,20 €",
        "6,82 €",
        "151,72 €",  # 2 x (4.20 + 6.82 + 64.84)
        "Begründung",  # §12(3)
        "ausgeprägte Abwehrspannung",
        "M51.2",
        "Erika Mustermann",
    ):
        assert field in txt, field
    _, note = cancel(inv, "2025-00002", date(2025, 3, 9))
    pdf = render_invoice(note, tmp_path / "credit.pdf", clinic=CLINIC, lang="en")
    txt = text(pdf)
    assert "Credit note" in txt and "2025-00002" in txt and "2025-00001" in txt
    assert "-€151.72" in txt and "-€64.84" in txt


def test_diagnosis_absent_without_consent() -> None:
    inv = draft_invoice(
        PATIENT, [SessionService(date(2025, 3, 3), "cervical")], diagnosis=Diagnosis("M50.1")
    )
    from spinecare.reports.documents import invoice_context

    html = render_html("invoice.html", invoice_context(inv, CLINIC), lang="de")
    assert "M50.1" not in html
    assert "ENTWURF" in html  # a draft says so
    assert "66,48 €" in html


@pytest.mark.slow
def test_estimate_pdf_german_self_payer(tmp_path: Path) -> None:
    est = CostEstimate(
        "lumbar", 15, Insurance.SELF_PAYER, date(2025, 2, 20), patient_name="Erika Mustermann"
    )
    pdf = render_estimate(est, tmp_path / "est.pdf", clinic=CLINIC)
    assert pages(pdf) == 1
    txt = text(pdf)
    for field in (
        "Kostenvoranschlag",
        "Lendenwirbelsäule",
        "15 Sitzungen",
        "56,55 €",  # self-payer session
        "848,25 €",  # 15 x 56.55
        "70,68 €",  # standard comparison
        "gesetzlichen Krankenversicherung",
        "Tarif",
        "etwa 20 %",
        "Unterschrift",
    ):
        assert field in txt, field


@pytest.mark.slow
def test_estimate_pdf_english_private(tmp_path: Path) -> None:
    est = CostEstimate("cervical", 20, Insurance.PRIVATE, date(2025, 2, 20))
    txt = text(render_estimate(est, tmp_path / "est.pdf", lang="en"))
    assert "Cost estimate" in txt and "€66.48" in txt and "€1,329.60" in txt
    assert "statutory" in txt and "tariff" in txt
    assert "538" not in txt  # no infrared for the cervical spine


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["de", "en"])
def test_consent_pdf_holds_the_seed_information(tmp_path: Path, lang: str) -> None:
    pdf = render_consent("lumbar", tmp_path / "c.pdf", clinic=CLINIC, lang=lang)
    assert pages(pdf) == 2
    txt = text(pdf)
    expected = {
        "de": ["Einwilligung", "45 Minuten", "30 Minuten", "15–20 Sitzungen", "Schwangerschaft",
               "Spina bifida", "Implantate", "ziehende oder brennende", "Schwindel",
               "vorübergehenden Verschlechterung", "70,68 €", "66,48 €", "Unterschrift"],
        "en": ["consent", "45 minutes", "30 minutes", "15–20 sessions", "Pregnancy",
               "spina bifida", "Implants", "pulling or burning", "dizziness",
               "temporarily get worse", "€70.68", "€66.48", "signature"],
    }[lang]  # fmt: skip
    for field in expected:
        assert field in txt, field


def test_template_dir_overrides_texts_and_templates(tmp_path: Path) -> None:
    (tmp_path / "texts_de.json").write_text('{"estimate_title": "Kostenschätzung Praxis X"}')
    (tmp_path / "style.css").write_text("body { color: black; } /* Praxis X */")
    from spinecare.reports.documents import estimate_context

    est = CostEstimate("lumbar", 15, Insurance.PRIVATE, date(2025, 2, 20))
    ctx = estimate_context(est, CLINIC, template_dir=tmp_path)
    html = render_html("estimate.html", ctx, lang="de", template_dir=tmp_path)
    assert "Kostenschätzung Praxis X" in html and "Praxis X */" in html
    assert "Tarif" in html  # the other texts still come from the package
    with pytest.raises(InputError, match="template_dir"):
        render_html("estimate.html", ctx, template_dir=tmp_path / "missing")


@pytest.mark.parametrize("word", ["https://example.org/" + "a" * 150, "x" * 500])
def test_a_long_word_in_a_justification_keeps_every_amount_on_the_page(
    tmp_path: Path, word: str
) -> None:
    """A URL or a pasted string without spaces wraps inside its cell; before, it widened the
    description column and pushed points, factor, amounts and the total off the page."""
    inv = draft_invoice(
        PATIENT,
        [SessionService(date(2025, 3, 3), "lumbar")],
        factors={"652": "3.0"},
        justifications={"652": word},
    )
    pdf = render_invoice(
        issue(inv, "2025-00001", date(2025, 3, 8)), tmp_path / "i.pdf", clinic=CLINIC
    )
    txt = text(pdf)
    assert "3,00" in txt and "77,81 €" in txt  # 652 at factor 3.0
    assert txt.count("€") >= 4  # every line's amount and the total


@pytest.mark.slow
def test_a_long_name_stays_on_the_estimate_s_page(tmp_path: Path) -> None:
    name = "Maria-Theresia Anna-Katharina Freifrau von Hohenzollern-Sigmaringen"
    est = CostEstimate("lumbar", 15, Insurance.PRIVATE, date(2025, 2, 20), patient_name=name)
    pdf = render_estimate(est, tmp_path / "est.pdf", clinic=CLINIC)
    assert pages(pdf) == 1
    # the whole name is on the page (it was cut at the right edge: "...-Sigmaring")
    assert text(pdf).count("Sigmaringen") == 2  # the address and the patient field
