"""`spinecare invoice quote`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from spinecare.cli import main


def test_quote_json_lumbar(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invoice", "quote", "--region", "lumbar", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total"] == "70.68"
    assert [(i["number"], i["analog_of"], i["factor"], i["points"], i["amount"])
            for i in out["items"]] == [
        ("538", None, "1.8", "40", "4.20"),
        ("516", "516", "1.8", "65", "6.82"),
        ("652", "652", "2.3", "445", "59.66"),
    ]  # fmt: skip


def test_quote_course_and_self_payer(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invoice", "quote", "--region", "cervical", "--sessions", "15", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["session_total"] == "66.48" and out["total"] == "997.20"
    assert main(["invoice", "quote", "--region", "lumbar", "--self-payer", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == "56.55"


def test_quote_with_justified_factor(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["invoice", "quote", "--region", "lumbar", "--factor", "652=2.5",
            "--justification", "652=erhöhter Zeitaufwand", "--json"]  # fmt: skip
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["items"][2]["amount"] == "64.84"
    assert out["items"][2]["justification"] == "erhöhter Zeitaufwand"
    assert out["total"] == "75.86"


def test_quote_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invoice", "quote", "--region", "lumbar"]) == 0
    out = capsys.readouterr().out
    assert "652 analog" in out and "70.68 EUR" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--factor", "652=3.6"], "factor 3.6"),
        (["--factor", "538=2.6"], "factor 2.6"),
        (["--factor", "652=2.5"], "justification"),
        (["--factor", "999=1.0"], "unknown GOÄ item"),
        (["--factor", "652=2.3001"], "not be exact"),
        (["--factor", "652"], "ITEM=VALUE"),
        (["--sessions", "0"], "sessions"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["invoice", "quote", "--region", "lumbar", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_bad_region(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invoice", "quote", "--region", "thoracic"]) == 2
    assert "region" in capsys.readouterr().err


# --- invoices in the database -----------------------------------------------------------------


def _treated_course(url: str, patient_id: int) -> int:
    """A course with two treated sessions, written directly (planning needs future dates)."""
    from datetime import UTC, date, datetime, timedelta

    from spinecare.store import open_store
    from spinecare.store.models import Course, TreatmentSession

    store = open_store(url=url)
    try:
        with store.unit_of_work(actor="doc") as s:
            now = datetime.now(UTC)
            course = Course(
                patient_id=patient_id, region="lumbar", segment="L4/5", planned_sessions=15,
                sessions_per_week=3, start_date=date(2025, 3, 3), status="active", created_at=now,
            )  # fmt: skip
            s.add(course)
            s.flush()
            for k in range(2):
                start = datetime(2025, 3, 3, 8, tzinfo=UTC) + timedelta(days=2 * k)
                s.add(
                    TreatmentSession(
                        course_id=course.id, number=k + 1, scheduled_start=start,
                        scheduled_end=start + timedelta(minutes=45), status="done",
                        protocol={}, created_at=now, started_at=start,
                    )
                )  # fmt: skip
            return course.id
    finally:
        store.dispose()


@pytest.mark.slow
def test_invoice_lifecycle_via_cli(
    cli_doc: Callable[..., tuple[int, str, str]], sqlite_env: str, tmp_path: Path
) -> None:
    code, out, err = cli_doc(
        "patients", "add", "--name", "Erika Mustermann", "--birth-date", "1962-03-14",
        "--sex", "F", "--weight", "70", "--height", "165", "--insurance", "private", "--json",
    )  # fmt: skip
    assert code == 0, err
    pid = json.loads(out)["id"]
    course = _treated_course(sqlite_env, pid)
    code, out, err = cli_doc("invoice", "create", "--patient", str(pid), "--course", str(course),
                             "--json")  # fmt: skip
    assert code == 0, err
    draft = json.loads(out)
    assert draft["status"] == "draft" and draft["total"] == "141.36"
    # --on is the older name of --date: still accepted, hidden from the help
    code, out, err = cli_doc("invoice", "issue", str(draft["id"]), "--on", "2025-04-01")
    assert code == 0, err
    assert "2025-00001" in out
    code, out, _ = cli_doc("invoice", "show", str(draft["id"]))
    assert "652 analog" in out and "59.66 EUR" in out
    pdf = tmp_path / "inv.pdf"
    code, out, err = cli_doc("documents", "invoice", str(draft["id"]), "--out", str(pdf))
    assert code == 0, err
    assert pdf.stat().st_size > 5000
    code, out, err = cli_doc(  # the older option form keeps working
        "documents", "invoice", "--invoice", str(draft["id"]), "--out", str(pdf)
    )
    assert code == 0, err
    code, out, err = cli_doc("invoice", "cancel", str(draft["id"]), "--date", "2025-04-02",
                             "--json")  # fmt: skip
    assert code == 0, err
    note = json.loads(out)
    assert note["kind"] == "credit_note" and note["number"] == "2025-00002"
    assert note["refers_to"] == "2025-00001" and note["total"] == "-141.36"
    code, out, _ = cli_doc("invoice", "list", "--json")
    assert [(i["number"], i["status"]) for i in json.loads(out)] == [
        ("2025-00001", "cancelled"), ("2025-00002", "issued")
    ]  # fmt: skip
    assert cli_doc("invoice", "show", "999")[0] == 1  # not found
    code, _, err = cli_doc("invoice", "issue", str(draft["id"]))
    assert code == 2 and "only a draft" in err


def _pdf_text(path: Path) -> str:
    """The PDF's text, whitespace collapsed (pypdf: pdftotext may be missing)."""
    from pypdf import PdfReader

    return " ".join(" ".join(p.extract_text() for p in PdfReader(str(path)).pages).split())


def test_withdrawn_consent_and_discarded_draft_via_cli(
    cli_doc: Callable[..., tuple[int, str, str]], sqlite_env: str, tmp_path: Path
) -> None:
    """The tester's two reports, as a user meets them: a diagnosis printed after the patient
    withdrew the consent, and a discarded draft printed like an invoice."""
    code, out, err = cli_doc(
        "patients", "add", "--name", "Erika Mustermann", "--birth-date", "1962-03-14",
        "--sex", "F", "--weight", "70", "--height", "165", "--insurance", "private", "--json",
    )  # fmt: skip
    assert code == 0, err
    pid = str(json.loads(out)["id"])
    code, _, err = cli_doc("findings", "diagnosis", "--patient", pid, "--icd10", "M54.5",
                           "--text", "Kreuzschmerz", "--date", "2025-02-01")  # fmt: skip
    assert code == 0, err
    first, second = (_treated_course(sqlite_env, int(pid)) for _ in range(2))
    code, out, err = cli_doc("invoice", "create", "--patient", pid, "--course", str(first),
                             "--json")  # fmt: skip
    assert code == 0, err
    draft = json.loads(out)
    assert draft["diagnosis_icd10"] == "M54.5"
    code, _, err = cli_doc("patients", "edit", pid, "--no-diagnosis-on-invoice")
    assert code == 0, err
    code, _, err = cli_doc("invoice", "issue", str(draft["id"]), "--date", "2025-04-01")
    assert code == 0, err
    code, out, _ = cli_doc("invoice", "show", str(draft["id"]), "--json")
    assert json.loads(out)["diagnosis_icd10"] is None
    pdf = tmp_path / "issued.pdf"
    code, _, err = cli_doc("documents", "invoice", str(draft["id"]), "--out", str(pdf))
    assert code == 0, err
    issued = _pdf_text(pdf)
    assert "2025-00001" in issued and "M54.5" not in issued and "Diagnose" not in issued

    # a draft prints, marked; discarded, it is refused and no file is written
    code, out, err = cli_doc("invoice", "create", "--patient", pid, "--course", str(second),
                             "--json")  # fmt: skip
    assert code == 0, err
    other = str(json.loads(out)["id"])
    pdf = tmp_path / "draft.pdf"
    code, _, err = cli_doc("documents", "invoice", other, "--out", str(pdf))
    assert code == 0, err
    assert "ENTWURF" in _pdf_text(pdf)
    code, _, err = cli_doc("invoice", "cancel", other)
    assert code == 0, err
    pdf = tmp_path / "discarded.pdf"
    code, out, err = cli_doc("documents", "invoice", other, "--out", str(pdf))
    assert code == 2
    assert "invoice" in err and "discarded draft" in err and len(err.strip().splitlines()) == 1
    assert not pdf.exists()
