"""`spinecare screen`: contraindication screening of a patient file for one region."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer

from spinecare.cli.app import app
from spinecare.cli.output import day_parse, echo, print_json
from spinecare.cli.textfile import MAX_CLINICAL_FILE_BYTES, bytes_read
from spinecare.clinical.contraindications import screen
from spinecare.clinical.findings import PatientFindings
from spinecare.errors import InputError
from spinecare.settings import clinic_today
from spinecare.vocab import Region


def read_patient_file(path: Path) -> PatientFindings:
    """Read and validate a patient JSON file; errors name the file or the field."""
    raw = bytes_read(path, limit_bytes=MAX_CLINICAL_FILE_BYTES)
    try:
        text = raw.decode("utf-8")  # JSON is UTF-8 (RFC 8259)
    except UnicodeDecodeError:
        raise InputError("file", "not UTF-8 text", str(path)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            "file", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:  # thousands of nested brackets: not a findings file
        raise InputError("file", "JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise InputError("file", "must contain a JSON object")
    return _as_a_record_would_be(PatientFindings.model_validate(data))


def _as_a_record_would_be(p: PatientFindings) -> PatientFindings:
    """The file's patient held to what a stored patient must be: born from 1900 and not in the
    future, premenopausal only as a woman, a child's weight one that children have. A file
    screened with a birth date of 1850 or a 3-year-old of 80 kg said "eligible"."""
    from spinecare.clinical.growth import implausible_for_age
    from spinecare.clinical.vocab import Sex
    from spinecare.services.patients import age_months, check_birth_date

    try:
        check_birth_date(p.birth_date)
    except ValueError as exc:
        raise InputError("birth_date", str(exc), str(p.birth_date)) from None
    if p.premenopausal and p.sex is not Sex.FEMALE:
        raise InputError("premenopausal", "only for female patients")
    months = age_months(p.birth_date, clinic_today())
    for problem in implausible_for_age(p.sex, months, weight_kg=p.weight_kg, height_cm=None):
        raise InputError(problem.field, problem.reason, p.weight_kg)
    return p


def _region(value: str) -> Region:
    try:
        return Region(value.strip().lower())
    except ValueError:
        raise InputError("region", "must be lumbar or cervical", value) from None


def _date(value: str | None) -> dt.date:
    if value is None:
        return clinic_today()  # the edge may read the clock; the rules never do
    day = day_parse(value, "--date")
    # The day screened for: a planned first session, so not before 1900 nor years ahead.
    latest = clinic_today() + dt.timedelta(days=2 * 365)
    if not dt.date(1900, 1, 1) <= day <= latest:
        raise InputError("--date", f"must be from 1900-01-01 to {latest.isoformat()}", value)
    return day


@app.command("screen")
def screen_cmd(
    file: Path | None = typer.Option(
        None, "--file", help="patient JSON (see examples/patient.json)"
    ),
    patient: int | None = typer.Option(
        None, "--patient", help="a stored patient's id (instead of --file)"
    ),
    region: str = typer.Option(..., "--region", help="lumbar | cervical"),
    on: str | None = typer.Option(None, "--date", "--on", help="planned first session, YYYY-MM-DD"),
    record: bool = typer.Option(
        False, "--record", help="record the decision in the patient's audit trail (physicians)"
    ),
    as_user: str | None = typer.Option(None, "--as", help="acting user (with --patient)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Screen a patient for decompression contraindications (seed list CI-01..CI-13)."""
    reg = _region(region)
    day = _date(on)
    if (file is None) == (patient is None):
        raise InputError("file", "give either --file or --patient")
    if file is not None:
        from spinecare.settings import get_settings

        # The clinic's thresholds apply to a file as to a stored patient.
        result = screen(read_patient_file(file), reg, day, get_settings().clinic.screening)
    else:
        from spinecare.cli.db import run_read, run_write
        from spinecare.services import screening as svc

        pid = patient
        assert pid is not None
        if record:
            result = run_write(
                as_user,
                lambda db, actor, st: svc.screen_patient(
                    db, actor, pid, reg, day, settings=st.clinic.screening
                ),
            )
        else:
            result = run_read(
                as_user,
                lambda db, actor, st: svc.evaluate_screening(
                    db, actor, pid, reg, day, settings=st.clinic.screening
                ),
            )
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    echo(f"decision: {result.decision.value}")
    echo(f"region: {result.region.value}  on: {result.on.isoformat()}  age: {result.age}")
    for c in result.contraindications:
        echo(f"contraindication {c.code}: {c.wording} -- {c.finding}")
    for m in result.missing:
        echo(f"missing {m.code}: {m.field} ({m.reason})")
    if result.bone is not None:
        b = result.bone
        echo(
            f"bone: {b.who_class.value if b.who_class else 'unclassified'} "
            f"({b.score_used} at {b.decisive_site.value}; max bone loss "
            f"{b.max_bone_loss_percent}%)"
        )
    for r in result.recommendations:
        echo(f"recommendation: {r}")
    for n in result.notes:
        echo(f"note: {n}")
