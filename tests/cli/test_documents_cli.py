"""`spinecare documents ...` writes PDFs; bad input exits 2 before any file is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader

from spinecare.cli import main

DATA = Path(__file__).parents[1] / "reports" / "data"


@pytest.mark.slow
def test_estimate_and_consent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "est.pdf"
    argv = ["documents", "estimate", "--region", "lumbar", "--sessions", "15", "--self-payer",
            "--patient-name", "Erika Mustermann", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert len(PdfReader(str(out)).pages) == 1
    assert str(out) in capsys.readouterr().out
    out = tmp_path / "consent.pdf"
    assert main(["documents", "consent", "--region", "cervical", "--out", str(out),
                 "--lang", "en"]) == 0  # fmt: skip
    assert len(PdfReader(str(out)).pages) == 2


@pytest.mark.slow
def test_session_and_course_report(tmp_path: Path) -> None:
    out = tmp_path / "s.pdf"
    argv = ["documents", "session-report", "--session-dir", str(DATA / "session_lumbar"),
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0 and out.stat().st_size > 10_000
    out = tmp_path / "c.pdf"
    argv = ["documents", "course-report", "--data", str(DATA / "course.json"), "--out", str(out)]
    assert main(argv) == 0 and len(PdfReader(str(out)).pages) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["estimate", "--region", "lumbar", "--factor", "652=9"], "factor 9"),
        (["estimate", "--region", "thoracic"], "region"),
        (["estimate", "--region", "lumbar", "--lang", "fr"], "lang"),
        (["consent", "--region", "lumbar", "--birth-date", "5.4.1970"], "YYYY-MM-DD"),
        (["session-report", "--session-dir", "/nonexistent"], "session_dir"),
    ],
)
def test_bad_input_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    out = tmp_path / "x.pdf"
    assert main(["documents", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_documents_for_a_stored_patient(
    cli_doc: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Consent and estimate take the record (--patient), the consent names the alternatives,
    and the clinic's letterhead, tax number and bank come from the settings file; no research
    note on a patient's document."""
    from tests.reports.pdfutil import text

    settings = tmp_path / "clinic.toml"
    settings.write_text(
        'clinic.name = "Praxis Dr. Huber"\nclinic.tax_number = "143/123/45678"\n'
        'clinic.address = ["Marienplatz 1", "80331 München"]\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("SPINECARE_SETTINGS_FILE", str(settings))
    run = cli_doc  # type: ignore[assignment]
    code, _, err = run(  # type: ignore[operator]
        "patients", "add", "--name", "Jörg Müller", "--birth-date", "14.05.1961", "--sex", "M",
        "--weight", "80,5", "--height", "178", "--insurance", "private",
        "--street", "Leopoldstraße 12", "--postcode", "80802", "--city", "München",
    )  # fmt: skip
    assert code == 0, err
    consent, estimate = tmp_path / "consent.pdf", tmp_path / "estimate.pdf"
    code, _, err = run("documents", "consent", "--region", "lumbar", "--patient", "1",  # type: ignore[operator]
                       "--out", str(consent))  # fmt: skip
    assert code == 0, err
    body = text(consent)
    assert "Jörg Müller" in body and "Leopoldstraße 12, 80802 München" in body
    assert "Andere Behandlungsmöglichkeiten" in body and "Physiotherapie" in body
    assert "Steuernummer 143/123/45678" in body and "Forschungssoftware" not in body
    code, _, err = run("documents", "estimate", "--region", "lumbar", "--patient", "1",  # type: ignore[operator]
                       "--out", str(estimate), "--lang", "en")  # fmt: skip
    assert code == 0, err
    body = text(estimate)
    assert "Jörg Müller" in body and "80802 München" in body and "14 May 1961" in body
    code, _, err = run("documents", "consent", "--region", "lumbar", "--patient", "1",  # type: ignore[operator]
                       "--patient-name", "X", "--out", str(consent))  # fmt: skip
    assert code == 2 and "--patient" in err
