"""What an invoice PDF may be made of: a draft prints with its mark, a discarded draft not at
all (it was never numbered nor sent; printed, it would pass for a bill)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from spinecare.billing import Recipient, SessionService, discard, draft_invoice
from spinecare.errors import InputError
from spinecare.reports.documents import invoice_context, render_invoice
from spinecare.reports.render import ClinicInfo, render_html

CLINIC = ClinicInfo("Wirbelsäulenzentrum Test", ("Klinikstraße 5", "80331 München"))
PATIENT = Recipient("Erika Mustermann", ("Hauptstr. 1", "80331 München"), "P-17")


def test_a_draft_prints_marked_as_draft() -> None:
    inv = draft_invoice(PATIENT, [SessionService(date(2025, 3, 3), "lumbar")])
    html = render_html("invoice.html", invoice_context(inv, CLINIC), lang="de")
    assert "ENTWURF – keine gültige Rechnung" in html and "70,68 €" in html


def test_a_discarded_draft_is_refused(tmp_path: Path) -> None:
    gone = discard(draft_invoice(PATIENT, [SessionService(date(2025, 3, 3), "lumbar")]))
    with pytest.raises(InputError, match="discarded draft is no invoice") as err:
        invoice_context(gone, CLINIC)
    assert err.value.field == "invoice"
    out = tmp_path / "gone.pdf"
    with pytest.raises(InputError, match="nothing to print"):
        render_invoice(gone, out, clinic=CLINIC, lang="en")
    assert not out.exists()
