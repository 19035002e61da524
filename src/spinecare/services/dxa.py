"""Import DXA results (FHIR Observations or the documented CSV) into the bone assessment.

Every imported measurement goes through exactly the path of a typed one (``BmdCreate`` and
``record_bmd`` in ``services/findings.py``): the same checks, the same row, so screening and
the bone assessment give the same answers whichever way a result arrived. The whole file is
checked before anything is stored (one bad row stores nothing); a measurement already stored
with the same values, or given twice in the file, is not stored twice, and each such one is
reported.

Whose results they are is checked first of all: the newest BMD is the one screening decides
with, so another patient's T-score filed here would change a contraindication decision. The
parsers return what the file says about its patient (``SubjectClaim``: a Patient resource, an
Observation's subject, the CSV's patient columns); a claim that names someone else than the
patient imported for refuses the whole file. A file that says nothing about its patient is
imported into the one named (docs/interop.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from spinecare.clinical.bone import BoneAssessment, classify
from spinecare.clinical.vocab import Menopause, Sex
from spinecare.errors import InputError, describe_validation_error
from spinecare.interop.dxa_csv import dxa_from_csv
from spinecare.interop.fhir import DxaImport, SubjectClaim, dxa_from_fhir
from spinecare.interop.records import BmdData
from spinecare.services.auth import Actor, require_clinical_writer
from spinecare.services.findings import BmdCreate, BmdPublic, record_bmd
from spinecare.services.patients import fold, load_patient
from spinecare.settings import get_settings
from spinecare.store.models import BmdMeasurement, Patient


def dxa_parse(text: str, *, name: str = "", zone: ZoneInfo | None = None) -> DxaImport:
    """FHIR JSON (a Bundle, an Observation or a list) or the DXA CSV, by content. A FHIR
    instant is counted on the day it is in ``zone`` (the clinic's; default: its settings)."""
    head = text.lstrip("\ufeff \t\r\n")[:1]
    if head in ("{", "["):
        return dxa_from_fhir(text, zone=zone if zone is not None else get_settings().clinic.zone)
    if name.lower().endswith(".json"):
        # JSON, but not a FHIR resource, bundle or list (``null``, ``42``), or not JSON at all
        raise InputError(
            "file", "a .json file that holds no FHIR Bundle, Observation or list of them"
        )
    return dxa_from_csv(text)


@dataclass(slots=True)
class DxaImported:
    stored: list[BmdPublic] = field(default_factory=list)
    already: list[BmdData] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the user should check
    # The bone assessment of each stored site (as ``spinecare bone classify`` gives it).
    assessments: list[tuple[BmdPublic, BoneAssessment]] = field(default_factory=list)


def _create(b: BmdData) -> BmdCreate:
    data: dict[str, Any] = {
        "measured_on": b.measured_on,
        "site": b.site,
        "bmd_g_cm2": b.bmd_g_cm2,
        "t_score": b.t_score,
        "z_score": b.z_score,
        "device": b.device,
        "manufacturer": b.manufacturer,
        "valid": b.valid,
    }
    try:
        return BmdCreate.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        where = f"{b.site.value} on {b.measured_on.isoformat()}"
        raise InputError("file", f"{where}: {describe_validation_error(exc)}") from None


# What makes two results the same one (the device's name and maker do not: the same scan
# typed once with and once without them is still one result).
Key = tuple[date, str, Any, Any, Any, bool]


def _key(row: BmdMeasurement | BmdCreate) -> Key:
    site = row.site if isinstance(row.site, str) else row.site.value
    return (row.measured_on, site, row.bmd_g_cm2, row.t_score, row.z_score, row.valid)


_WORD = re.compile(r"\w+")


def _same_name(given: str, stored: str) -> bool:
    """A name in a file is the stored one when its words are, in any order, case and accents
    aside ('MUSTERMANN, Erika' is 'Erika Mustermann'); or when the shorter of the two has at
    least two words, all in the longer (a middle name given on one side only). One word alone
    (a first name) never matches a longer name. Engineering choice: strict enough that another
    patient's name does not pass, loose enough for the orders and cases systems write."""
    a, b = set(_WORD.findall(fold(given))), set(_WORD.findall(fold(stored)))
    if not a or not b:
        return False
    if a == b:
        return True
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= 2 and short <= long_


def check_subject(patient: Patient, claims: Sequence[SubjectClaim]) -> list[str]:
    """Refuse the file (InputError naming the field) when what it says about its patient is
    not the patient ``patient``: spinecare's id, the birth date or the name. A patient named
    only in a way spinecare cannot compare (another system's reference or identifier, such as
    ``Patient/123`` of the hospital that measured) is imported into the patient named on the
    command line, with a note saying what the file called the patient, for the user to check:
    refusing it would make a device's or hospital's own files unimportable. Returns the notes."""
    pid = patient.id
    notes: list[str] = []
    other = "results about another patient are not imported"
    for c in claims:
        if c.kind == "patient_id":
            if all(v.strip() != str(pid) for v in c.values):
                named = c.values[0].strip()
                named = named if len(named) <= 20 else named[:20] + "..."  # a line, not a page
                raise InputError(c.field, f"{c.where}: names patient {named}, not "
                                 f"patient {pid}; {other}")  # fmt: skip
        elif c.kind == "birth_date":
            born = patient.birth_date.isoformat()
            if not any(len(v) >= 4 and born.startswith(v) for v in c.values):
                raise InputError(c.field, f"{c.where}: {c.values[0]} is not the birth date of "
                                 f"patient {pid}; {other}")  # fmt: skip
        elif c.kind == "name":
            if not any(_same_name(v, patient.name) for v in c.values):
                raise InputError(c.field, f"{c.where}: not the name of patient {pid}; {other}",
                                 c.values[0])  # fmt: skip
        else:
            notes.append(
                f"{c.where}: the file names its patient as {c.values[0][:60]!r}, which spinecare "
                f"cannot compare with patient {pid}: check that these are this patient's results"
            )
    return notes


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def assess(bmd: BmdPublic, *, sex: Sex, age: int, premenopausal: bool | None,
           weight_kg: float | None) -> BoneAssessment:  # fmt: skip
    """One stored site as ``bone classify --bmd X --t-score Y`` assesses it: the T-score
    printed on the report wins over one computed from the BMD (docs/interop.md), as screening
    decides with it; the BMD still gives the bone loss."""
    value = None if bmd.bmd_g_cm2 is None else float(bmd.bmd_g_cm2)
    return classify(
        bmd.site,
        sex=sex,
        age=age,
        bmd=value,
        t_score=None if bmd.t_score is None else float(bmd.t_score),
        z_score=None if bmd.z_score is None else float(bmd.z_score),
        premenopausal=premenopausal if sex is Sex.FEMALE else None,
        weight_kg=weight_kg,
    )


def import_dxa(
    db: Session,
    actor: Actor,
    patient_id: int,
    data: DxaImport,
    *,
    now: datetime | None = None,
) -> DxaImported:
    """Store the measurements of ``data`` for the patient (all checked first, the patient
    the file names above all)."""
    require_clinical_writer(actor)
    patient = load_patient(db, patient_id)
    notes = check_subject(patient, data.subjects)  # whose results, before anything else
    creates = [_create(b) for b in data.measurements]  # every row valid, or nothing stored
    known = {
        _key(r)
        for r in db.scalars(select(BmdMeasurement).where(BmdMeasurement.patient_id == patient_id))
    }
    out = DxaImported(skipped=list(data.skipped), notes=notes)
    sex = Sex(patient.sex)
    pre = None if patient.menopausal_status is None else patient.menopausal_status == Menopause.PRE
    for b, c in zip(data.measurements, creates, strict=True):
        if _key(c) in known:  # stored before, or earlier in this same file
            out.already.append(b)
            continue
        known.add(_key(c))
        row = record_bmd(db, actor, patient_id, c, now=now)
        out.stored.append(row)
        if not row.valid:
            continue
        age = _age(patient.birth_date, row.measured_on)
        try:
            result = assess(
                row, sex=sex, age=age, premenopausal=pre, weight_kg=float(patient.weight_kg)
            )
        except InputError as exc:  # e.g. an age the references do not cover: stored, not rated
            out.skipped.append(f"{row.site.value} on {row.measured_on}: not assessed ({exc})")
            continue
        out.assessments.append((row, result))
    return out
