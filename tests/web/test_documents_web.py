"""Documents from the web as the CLI makes them: the full letterhead on invoices, the session
report from the records (dated by the day the session ran), a course's documents as one zip."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.reports.pdfutil import text
from tests.web.conftest import ARTIFACTS, Browser, Clinic

IBAN = "DE89 3704 0044 0532 0130 00"  # the standard example IBAN (valid check digits)


@pytest.fixture
def app(clinic: Clinic) -> Iterator[Any]:
    """The app with a clinic whose letterhead is complete (bank, tax number, physicians)."""
    from spinecare.settings import BankAccount, ClinicSettings, Settings
    from spinecare.store import open_store
    from spinecare.web.app import create_app

    clinic_settings = ClinicSettings(
        name="Wirbelsäulenzentrum Isar",
        address=["Sendlinger Str. 1", "80331 München"],
        physicians=["Dr. med. Eva Roth"],
        tax_number="143/123/45678",
        bank=BankAccount(holder="Praxis Roth", iban=IBAN, bic="COBADEFFXXX"),
    )
    settings = Settings(
        data_dir=clinic.data_dir, database_url=clinic.db_url, clinic=clinic_settings
    )
    store = open_store(settings)
    application = create_app(settings, store=store)
    yield application
    application.state.ctx.live.stop_all("test over")
    store.dispose()


def _pdf_text(body: bytes, tmp_path: Path, name: str) -> str:
    """The PDF's text; the PDF is kept in the artifacts to be looked at (pdftoppm)."""
    path = tmp_path / name
    path.write_bytes(body)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"doc-{name}").write_bytes(body)
    return text(path)


def test_invoice_pdf_carries_the_letterhead(login: Any, clinic: Clinic, tmp_path: Path) -> None:
    bill: Browser = login("billing")
    invoice_id = clinic.invoice_id  # the demo's draft invoice for the session that ran
    assert invoice_id is not None
    assert bill.post(f"/invoices/{invoice_id}/issue").status_code == 303
    r = bill.client.get(f"/invoices/{invoice_id}.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    words = _pdf_text(r.content, tmp_path, "invoice.pdf")
    for expected in (
        "Wirbelsäulenzentrum Isar",
        "143/123/45678",
        "Dr. med. Eva Roth",
        "COBADEFFXXX",
    ):
        assert expected in words, expected
    assert "DE89" in words


def test_session_report_is_the_records_report_dated_by_the_day_it_ran(
    login: Any, app: Any, clinic: Clinic, tmp_path: Path
) -> None:
    from spinecare.reports.render import ClinicInfo
    from spinecare.reports.session_report import render_session_report
    from spinecare.services.reports import session_report_data
    from spinecare.services.users import actor_for
    from spinecare.store.models import TreatmentSession

    ctx = app.state.ctx
    zone = ctx.settings.clinic.zone
    with ctx.store.unit_of_work("test-setup") as db:  # it ran three days before its booked day
        s = db.get(TreatmentSession, clinic.done_session_id)
        s.started_at = s.scheduled_start - timedelta(days=3)
        ran, booked = s.started_at, s.scheduled_start
    doc: Browser = login("therapist")
    r = doc.client.get(f"/sessions/{clinic.done_session_id}/report.pdf")
    assert r.status_code == 200, r.text[:300]
    words = _pdf_text(r.content, tmp_path, "web.pdf")
    assert ran.astimezone(zone).strftime("%d.%m.%Y") in words
    assert booked.astimezone(zone).strftime("%d.%m.%Y") not in words
    with ctx.store.session() as db:  # what `spinecare documents session-report` renders
        data = session_report_data(
            db, actor_for(db, "therapist"), clinic.done_session_id, zone=zone
        )
    ref = tmp_path / "cli.pdf"
    render_session_report(
        data, ref, clinic=ClinicInfo.from_settings(ctx.settings.clinic), lang="de"
    )
    assert words == text(ref)


def test_course_documents_zip_by_role(login: Any, clinic: Clinic, tmp_path: Path) -> None:
    url = f"/courses/{clinic.course_id}/documents.zip"
    therapist: Browser = login("therapist")
    assert f'href="{url}"' in therapist.client.get(f"/courses/{clinic.course_id}").text
    r = therapist.client.get(url)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert {"consent.pdf", "estimate.pdf", "session-01.pdf", "course-report.pdf"} <= set(names)
    assert not any(n.startswith("invoice-") for n in names)
    bill: Browser = login("billing")
    assert bill.post(f"/invoices/{clinic.invoice_id}/issue").status_code == 303
    r = bill.client.get(url)
    zf = zipfile.ZipFile(io.BytesIO(r.content))
    invoices = [n for n in zf.namelist() if n.startswith("invoice-")]
    assert invoices
    assert "DE89" in _pdf_text(zf.read(invoices[0]), tmp_path, "inv.pdf")
    assert login("therapist").client.get("/courses/999999/documents.zip").status_code == 404


def test_a_discarded_draft_is_not_printed(login: Any, clinic: Clinic) -> None:
    """A draft cancelled before it had a number is no invoice: its PDF used to look like one."""
    assert clinic.invoice_id is not None
    biller: Browser = login("billing")
    assert biller.post(f"/invoices/{clinic.invoice_id}/cancel").status_code == 303
    r = biller.client.get(f"/invoices/{clinic.invoice_id}.pdf")
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert "ein verworfener Entwurf ist keine Rechnung" in r.text
