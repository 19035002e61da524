"""`spinecare documents estimate|consent|invoice|session-report|course-report`: PDFs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import typer

from spinecare.billing import Insurance
from spinecare.cli.app import app
from spinecare.cli.db import AS_OPTION, run_read
from spinecare.cli.invoice import check_sessions, parse_assignments
from spinecare.cli.output import ON_ALIAS, date_option, day_parse, echo
from spinecare.errors import InputError
from spinecare.reports.i18n import check_lang
from spinecare.settings import clinic_today

if TYPE_CHECKING:  # the renderers load in their commands: matplotlib, Jinja (start-up)
    from spinecare.reports.render import ClinicInfo

documents_app = typer.Typer(help="Documents as PDF (German by default).", no_args_is_help=True)
app.add_typer(documents_app, name="documents")

LANG_OPTION = typer.Option("de", "--lang", help="de | en")
TEMPLATE_OPTION = typer.Option(
    None, "--template-dir", help="clinic templates overriding the packaged ones"
)
OUT_OPTION = typer.Option(..., "--out", help="PDF file to write")


def clinic_info() -> ClinicInfo:
    """The letterhead, physicians, tax number and bank details from the clinic settings."""
    from spinecare.reports.render import ClinicInfo
    from spinecare.settings import get_settings

    return ClinicInfo.from_settings(get_settings().clinic)


def clinic_zone() -> ZoneInfo:
    """The clinic's time zone: the day and time a session ran are printed in it."""
    from spinecare.settings import get_settings

    return get_settings().clinic.zone


def _from_records(as_user: str | None, read: Any, record_id: int) -> Any:
    """``read(db, actor, record_id, zone=...)`` with a login, days and times in clinic time."""
    zone = clinic_zone()
    return run_read(as_user, lambda db, actor, _: read(db, actor, record_id, zone=zone))


def _region(region: str) -> str:
    r = region.strip().lower()
    if r not in ("lumbar", "cervical"):
        raise InputError("region", "lumbar | cervical", region)
    return r


# Dates printed on a document: nothing before 1900, a birth date not in the future, a document
# dated at most a year ahead (an estimate for a planned course).
EARLIEST = date(1900, 1, 1)


def _date(value: str | None, field: str) -> date | None:
    if value is None:
        return None
    day = day_parse(value, field)
    latest = clinic_today() if field == "--birth-date" else clinic_today() + timedelta(days=366)
    if not EARLIEST <= day <= latest:
        raise InputError(
            field, f"must be from {EARLIEST.isoformat()} to {latest.isoformat()}", value
        )
    return day


PATIENT_OPTION = typer.Option(
    None, "--patient", help="patient id: name, address, birth date and insurance from the record"
)


def _patient_record(patient_id: int, as_user: str | None) -> Any:
    """The stored patient (name, address, birth date, insurance), read with a login."""
    from spinecare.services.patients import get_patient

    return run_read(as_user, lambda s, actor, _: get_patient(s, actor, patient_id))


def _typed_and_record(patient: int | None, name: str | None, birth: str | None) -> None:
    if patient is not None and (name is not None or birth is not None):
        raise InputError(
            "--patient",
            "takes the name and birth date from the record: drop --patient-name and --birth-date",
        )


def _done(path: Path) -> None:
    echo(f"wrote {path}")


def _check_out(out: Path) -> Path:
    """Refuse an output path that cannot be a PDF file before any work is done."""
    if out.is_dir():
        raise InputError("out", "is a directory: name the PDF file to write", str(out))
    parent = out.parent
    if not parent.is_dir():
        raise InputError("out", "its directory does not exist", str(parent))
    if out.exists() and not _replaceable(out):
        raise InputError("out", "exists and is not a PDF: not overwritten", str(out))
    return out


def _replaceable(path: Path) -> bool:
    """An earlier PDF (or an empty file) may be replaced; anything else is somebody's data
    (the database, a backup, a recording) and is never overwritten by a document."""
    try:
        with open(path, "rb") as f:
            head = f.read(5)
    except OSError:
        return False
    return path.is_file() and head in (b"", b"%PDF-")


@contextmanager
def _atomic(out: Path) -> Iterator[Path]:
    """A temporary file next to ``out``, renamed to ``out`` only when the PDF is complete: a
    full disk or a failure leaves no half-written document (and an earlier one intact)."""
    from spinecare.store.files import named

    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, out)
    except OSError as exc:  # a full disk names no file; the temporary one means nothing
        if exc.filename not in (None, str(tmp)):
            raise
        raise named(exc, out) from None
    finally:
        with suppress(OSError):
            tmp.unlink()


@documents_app.command("estimate")
def estimate(
    region: str = typer.Option(..., "--region", help="lumbar | cervical"),
    sessions: int = typer.Option(15, "--sessions", help="planned sessions (seed: 15-20)"),
    self_payer: bool = typer.Option(False, "--self-payer", help="self-payer fee scale"),
    insurance: str | None = typer.Option(
        None, "--insurance", help="private | statutory | self_payer (default private)"
    ),
    patient: int | None = PATIENT_OPTION,
    patient_name: str | None = typer.Option(None, "--patient-name", help="instead of --patient"),
    birth_date: str | None = typer.Option(None, "--birth-date", help="instead of --patient"),
    on: str | None = typer.Option(None, "--date", help="date printed, YYYY-MM-DD (default today)"),
    on_alias: str | None = ON_ALIAS,
    factor: list[str] | None = typer.Option(None, "--factor", help="ITEM=FACTOR"),
    justification: list[str] | None = typer.Option(None, "--justification", help="ITEM=TEXT"),
    out: Path = OUT_OPTION,
    lang: str = LANG_OPTION,
    template_dir: Path | None = TEMPLATE_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Cost estimate for a planned course (for a stored patient with --patient)."""
    from spinecare.reports.documents import CostEstimate, render_estimate

    lang = check_lang(lang)
    check_sessions(sessions)
    _check_out(out)
    _typed_and_record(patient, patient_name, birth_date)
    address: tuple[str, ...] = ()
    born = _date(birth_date, "--birth-date")
    if patient is not None:
        from spinecare.services.patients import postal_address

        rec = _patient_record(patient, as_user)
        patient_name, born, address = rec.name, rec.birth_date, postal_address(rec)
        if insurance is None and not self_payer:
            insurance = rec.insurance.value
    if insurance is None:
        ins = Insurance.SELF_PAYER if self_payer else Insurance.PRIVATE
    else:
        try:
            ins = Insurance(insurance.strip().lower())
        except ValueError:
            raise InputError("insurance", "private | statutory | self_payer", insurance) from None
        if self_payer and ins is Insurance.PRIVATE:
            raise InputError("--self-payer", "contradicts --insurance private")
    issued_on = _date(date_option(on, on_alias), "--date") or clinic_today()
    if born is not None and issued_on < born:
        raise InputError("--date", f"must not be before the birth date ({born})", str(issued_on))
    est = CostEstimate(
        region=_region(region),
        sessions=sessions,
        insurance=ins,
        issued_on=issued_on,
        patient_name=patient_name,
        patient_address=address,
        birth_date=born,
        factors=parse_assignments(factor, "--factor"),
        justifications=parse_assignments(justification, "--justification"),
    )
    est.quote()  # refuse bad factors before touching the file system
    with _atomic(_check_out(out)) as tmp:
        render_estimate(est, tmp, clinic=clinic_info(), lang=lang, template_dir=template_dir)
    _done(out)


@documents_app.command("consent")
def consent(
    region: str = typer.Option(..., "--region", help="lumbar | cervical"),
    patient: int | None = PATIENT_OPTION,
    patient_name: str | None = typer.Option(None, "--patient-name", help="instead of --patient"),
    birth_date: str | None = typer.Option(None, "--birth-date", help="instead of --patient"),
    out: Path = OUT_OPTION,
    lang: str = LANG_OPTION,
    template_dir: Path | None = TEMPLATE_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Patient information and declaration of consent, alternatives to the treatment included
    (for a stored patient with --patient)."""
    from spinecare.reports.documents import render_consent

    reg, born, lang = _region(region), _date(birth_date, "--birth-date"), check_lang(lang)
    _check_out(out)
    _typed_and_record(patient, patient_name, birth_date)
    address: tuple[str, ...] = ()
    if patient is not None:
        from spinecare.services.patients import postal_address

        rec = _patient_record(patient, as_user)
        patient_name, born, address = rec.name, rec.birth_date, postal_address(rec)
    with _atomic(_check_out(out)) as tmp:
        render_consent(
            reg,
            tmp,
            clinic=clinic_info(),
            patient_name=patient_name,
            birth_date=born,
            patient_address=address,
            lang=lang,
            template_dir=template_dir,
        )
    _done(out)


@documents_app.command("session-report")
def session_report(
    session: int | None = typer.Option(
        None, "--session", help="a course session's id: patient, operator and pain from the records"
    ),
    session_dir: Path | None = typer.Option(
        None, "--session-dir", help="a recorded session directory (a session outside a course)"
    ),
    out: Path = OUT_OPTION,
    lang: str = LANG_OPTION,
    template_dir: Path | None = TEMPLATE_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Report of one session: patient, date, operator, pain before and after, the protocol,
    the force-time chart, counter-tension and faults with their times."""
    from spinecare.reports.session_report import load_session_dir, render_session_report

    if (session is None) == (session_dir is None):
        raise InputError("session", "give either --session ID (from the records) or --session-dir")
    lang = check_lang(lang)
    _check_out(out)
    if session_dir is not None:
        data = load_session_dir(session_dir)
    else:
        from spinecare.services.reports import session_report_data

        assert session is not None
        data = _from_records(as_user, session_report_data, session)
    with _atomic(out) as tmp:
        render_session_report(data, tmp, clinic=clinic_info(), lang=lang, template_dir=template_dir)
    _done(out)


@documents_app.command("course-report")
def course_report(
    data: Path | None = typer.Option(None, "--data", help="course JSON file (see docs/billing.md)"),
    course: int | None = typer.Option(None, "--course", help="a stored course's id"),
    out: Path = OUT_OPTION,
    lang: str = LANG_OPTION,
    template_dir: Path | None = TEMPLATE_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Report of a course: force dose, counter-tension counts, pain NRS and ODI."""
    from spinecare.reports.course_report import load_course_json, render_course_report

    if (data is None) == (course is None):
        raise InputError("course", "give either --course or --data")
    lang = check_lang(lang)
    _check_out(out)
    if data is not None:
        report = load_course_json(data)
    else:
        from spinecare.services.reports import course_report_data

        assert course is not None
        report = _from_records(as_user, course_report_data, course)
    with _atomic(out) as tmp:
        render_course_report(
            report, tmp, clinic=clinic_info(), lang=lang, template_dir=template_dir
        )
    _done(out)


@documents_app.command("invoice")
def invoice(
    invoice_id: int | None = typer.Argument(None, help="invoice id (see `invoice list`)"),
    invoice_option: int | None = typer.Option(
        None, "--invoice", hidden=True, help="the same as INVOICE_ID (older form)"
    ),
    out: Path = OUT_OPTION,
    lang: str = LANG_OPTION,
    template_dir: Path | None = TEMPLATE_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """An invoice or credit note from the database as PDF."""
    from spinecare.reports.documents import render_invoice
    from spinecare.services import invoices

    if invoice_id is not None and invoice_option is not None and invoice_id != invoice_option:
        raise InputError("INVOICE_ID", "given twice (also as --invoice): give it once")
    chosen = invoice_id if invoice_id is not None else invoice_option
    if chosen is None:
        raise InputError(
            "INVOICE_ID", "missing: spinecare documents invoice INVOICE_ID --out FILE.pdf"
        )
    lang = check_lang(lang)
    _check_out(out)
    inv = run_read(as_user, lambda s, actor, _: invoices.load_invoice(s, actor, chosen))
    with _atomic(out) as tmp:
        render_invoice(inv, tmp, clinic=clinic_info(), lang=lang, template_dir=template_dir)
    _done(out)


@documents_app.command("course")
def course_documents(
    course_id: int = typer.Argument(..., help="course id (see `spinecare course show`)"),
    out: Path = typer.Option(..., "--out", help="directory to write the PDFs into"),
    lang: str = LANG_OPTION,
    template_dir: Path | None = TEMPLATE_OPTION,
    as_json: bool = typer.Option(False, "--json", help="print the files written as JSON"),
    as_user: str | None = AS_OPTION,
) -> None:
    """All of a course's documents in one directory: the consent form and the cost estimate
    for the patient, every issued invoice and credit note, a report for each session that ran
    and the course report. Each file appears complete or not at all."""
    import json

    from spinecare.services.documents import course_documents as gather
    from spinecare.services.documents import course_files

    lang = check_lang(lang)
    created = _check_dir(out)
    written: list[Path] = []
    try:
        docs = _from_records(as_user, gather, course_id)
        planned = course_files(docs, lang)
        for name, _ in planned:
            _check_target(out / name)
        written = _all_or_nothing(out, planned, clinic_info(), template_dir)
    except BaseException:
        if created and not written:  # a directory made for nothing goes again
            with suppress(OSError):
                out.rmdir()
        raise
    skipped = [f"draft invoice {i}: issue it first (spinecare invoice issue {i})"
               for i in docs.drafts] + [
        f"session {i}: its recording is missing; restore it, then run this again"
        for i in docs.missing_recordings
    ]  # fmt: skip
    if as_json:
        typer.echo(json.dumps({"written": [str(p) for p in written], "skipped": skipped}))
        return
    for p in written:
        _done(p)
    from spinecare.cli.output import note

    for line in skipped:
        note(f"not written: {line}")


def _all_or_nothing(out: Path, planned: Any, clinic: Any, template_dir: Path | None) -> list[Path]:
    """Render every document into a hidden directory inside ``out``, then move them into place
    together: a disk that fills at the fourth PDF used to leave the first three behind while the
    error said nothing was finished. Renames within a directory need no space, so once all are
    rendered, all arrive; until then, nothing of this run is in ``out`` (earlier PDFs stay)."""
    import shutil
    import tempfile

    from spinecare.store.files import named

    try:
        staging = Path(tempfile.mkdtemp(prefix=".documents-", dir=out))
    except OSError as exc:
        raise named(exc, out) from None
    try:
        for name, render in planned:
            render(staging / name, clinic, template_dir)
        written = []
        for name, _ in planned:
            os.replace(staging / name, out / name)
            written.append(out / name)
        return written
    except OSError as exc:  # about a file in the staging directory: the user named ``out``
        if exc.filename is not None and not str(exc.filename).startswith(str(staging)):
            raise
        raise named(exc, out) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _check_dir(out: Path) -> bool:
    """``--out`` is a directory (created when missing: True); a file there is refused."""
    if out.exists() and not out.is_dir():
        raise InputError("out", "is a file: name a directory for the documents", str(out))
    if out.is_dir():
        return False
    out.mkdir(parents=True, exist_ok=True)  # not writable: OSError, exit status 10
    return True


def _check_target(path: Path) -> None:
    if path.exists() and not _replaceable(path):
        raise InputError("out", "holds a file of that name that is not a PDF: not overwritten",
                         str(path))  # fmt: skip
