"""`spinecare documents ...` writes PDFs; bad input exits 2 before any file is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader
from tests.cli.conftest import screening_clear

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


BORN_1970_DATED_1950 = [
    "estimate", "--region", "lumbar", "--patient-name", "A", "--birth-date", "1970-05-14",
    "--date", "1950-01-02",
]  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["estimate", "--region", "lumbar", "--factor", "652=9"], "factor 9"),
        (["estimate", "--region", "thoracic"], "region"),
        (["estimate", "--region", "lumbar", "--lang", "fr"], "lang"),
        (["consent", "--region", "lumbar", "--birth-date", "1970-14-05"], "YYYY-MM-DD"),
        (BORN_1970_DATED_1950, "before the birth date"),
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


@pytest.mark.slow
def test_all_documents_of_a_course_in_one_step(
    cli_doc: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A course as a clinic runs it: planned, one session run early, pain recorded, invoiced;
    then `documents course ID --out DIR` writes every document, each one's text from the
    records: the day it ran (not the day booked), who ran it, pain, protocol and events in
    words, a German course report; an unwritable directory exits 10 leaving nothing."""
    import json
    import os
    from datetime import date, datetime, timedelta

    from tests.reports.pdfutil import text

    from spinecare.services.invoices import DEFAULT_ZONE

    run = cli_doc  # type: ignore[assignment]

    def ok(*args: str) -> str:
        code, out, err = run(*args)  # type: ignore[operator]
        assert code == 0, err
        return str(out)

    pid = json.loads(ok("patients", "add", "--name", "Jörg Müller", "--birth-date", "14.05.1961",
                        "--sex", "M", "--weight", "80", "--height", "178", "--insurance",
                        "private", "--street", "Leopoldstraße 12", "--postcode", "80802",
                        "--city", "München", "--json"))["id"]  # fmt: skip
    screening_clear(run, pid)  # type: ignore[arg-type]
    # Documents date things in the clinic's zone; the run may cross its midnight.
    day0 = datetime.now(DEFAULT_ZONE).date()
    booked = date.today() + timedelta(days=9)
    plan = ("course", "plan", "--patient", str(pid), "--region", "lumbar", "--segment", "L4/5")
    course = json.loads(ok(*plan, "--start", booked.isoformat(), "--json"))
    cid, first = course["id"], str(course["sessions"][0]["id"])
    ok("session", "run", "--course-session", first, "--fast", "--minutes", "2.5",
       "--out", str(tmp_path / "s1"))  # fmt: skip
    ok("outcome", "record", "--session", first, "--nrs-before", "6", "--nrs-after", "3")
    inv = json.loads(ok("invoice", "create", "--patient", str(pid), "--course", str(cid),
                        "--json"))["id"]  # fmt: skip
    ok("invoice", "issue", str(inv))
    out = tmp_path / "docs"
    ok("documents", "course", str(cid), "--out", str(out))
    day1 = datetime.now(DEFAULT_ZONE).date()
    names = sorted(p.name for p in out.iterdir())
    number = next(n for n in names if n.startswith("invoice-"))[len("invoice-") : -len(".pdf")]
    assert number in {f"{d.year}-00001" for d in (day0, day1)}
    assert names == sorted(
        ["consent.pdf", "estimate.pdf", f"invoice-{number}.pdf", "session-01.pdf",
         "course-report.pdf"]
    )  # fmt: skip
    session = text(out / "session-01.pdf")
    days = {d.strftime("%d.%m.%Y") for d in (day0, day1)}
    ran = next((d for d in days if d in session), None)
    assert ran is not None, f"the day it ran, one of {days}"
    for words in ("Sitzungsbericht – Sitzung 1", "Jörg Müller", "14.05.1961", ran,
                  "Durchgeführt von", "Behandlungsmodus intermittierend", "Haltezeit 60 s",
                  "Anstieg 15,0 N/s", "Sitzungsende regulär beendet", "min"):  # fmt: skip
        assert words in session, words
    assert "doc" in session.split() and "6" in session.split() and "3" in session.split()
    assert "=" not in session and "peak_force_n" not in session
    invoice, report = text(out / f"invoice-{number}.pdf"), text(out / "course-report.pdf")
    assert ran in invoice and booked.strftime("%d.%m.%Y") not in invoice
    assert "Verlaufsbericht der Behandlungsserie" in report and ran in report
    for english in ("Course report", "patient 1", "Session", "peak"):
        assert english not in report, english
    ok("documents", "course", str(cid), "--out", str(tmp_path / "en"), "--lang", "en")
    assert "Run by" in text(tmp_path / "en" / "session-01.pdf")

    def refuse(src: object, dst: object) -> None:
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(os, "replace", refuse)
    code, _, err = run("documents", "course", str(cid), "--out", str(tmp_path / "ro"))  # type: ignore[operator]
    assert code == 10 and "cannot be written" in err
    assert not (tmp_path / "ro").exists()  # no temporary or half-written file, no directory


def test_a_course_set_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    """A disk that fills at the third PDF leaves neither the first two nor a staging directory,
    and an earlier PDF of the same name intact: the error's "nothing was finished" is true."""
    import errno

    from spinecare.cli import documents
    from spinecare.cli.errors import describe_os_error

    out = tmp_path / "course1"
    out.mkdir()
    (out / "consent.pdf").write_bytes(b"%PDF- an earlier one")

    def fine(path: Path, clinic: object, template_dir: object) -> None:
        path.write_bytes(b"%PDF-1.7 new")

    def full(path: Path, clinic: object, template_dir: object) -> None:
        path.write_bytes(b"%PDF-1.7 half")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    planned = [("consent.pdf", fine), ("estimate.pdf", fine), ("invoice-1.pdf", full)]
    with pytest.raises(OSError) as caught:
        documents._all_or_nothing(out, planned, None, None)
    assert sorted(p.name for p in out.iterdir()) == ["consent.pdf"]
    assert (out / "consent.pdf").read_bytes() == b"%PDF- an earlier one"
    status, line = describe_os_error(caught.value)
    assert status == 10 and line.startswith(f"{out}: ") and "Nothing was finished" in line
    # and with room on the disk, all of them arrive
    planned[2] = ("invoice-1.pdf", fine)
    written = documents._all_or_nothing(out, planned, None, None)
    assert [p.name for p in written] == ["consent.pdf", "estimate.pdf", "invoice-1.pdf"]
    assert sorted(p.name for p in out.iterdir()) == ["consent.pdf", "estimate.pdf", "invoice-1.pdf"]
    assert (out / "consent.pdf").read_bytes() == b"%PDF-1.7 new"
