"""Patients: register, find, show, edit, soft-delete.

Edits re-validate the whole record (so e.g. a menopausal status cannot be set on a male
patient, or a weight no child of that age has); the audit log keeps the values before and after
every change. A name holds no control or formatting characters; a birth date is not moved after
anything already recorded for the patient.

Master data as the front desk types it: dates also the German way (``14.05.1961``), decimals
with a comma (``80,5``), a German postcode of five digits; each refusal names its field. The
search ignores case and accents (``MÜLLER`` finds Müller) through a folded copy of the name.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spinecare.clinical.growth import implausible_for_age
from spinecare.clinical.vocab import Menopause, Sex
from spinecare.errors import InputError
from spinecare.services._common import act_as, utcnow
from spinecare.services.auth import (
    Actor,
    require_clinical_writer,
    require_physician,
    require_reader,
)
from spinecare.services.errors import NotFoundError
from spinecare.settings import clinic_today
from spinecare.store.enums import Insurance, SessionStatus
from spinecare.store.models import (
    BmdMeasurement,
    Course,
    Diagnosis,
    Patient,
    ScreeningFinding,
    TreatmentSession,
    VertebralFracture,
)
from spinecare.store.text import refuse_reason

# Plausible adult ranges, an input check only: weight as clinical/findings.py accepts it
# (30-250 kg); height 100-250 cm (engineering bounds around adult stature).
WEIGHT_MIN_KG, WEIGHT_MAX_KG = Decimal(30), Decimal(250)
HEIGHT_MIN_CM, HEIGHT_MAX_CM = Decimal(100), Decimal(250)
EARLIEST_BIRTH_DATE = date(1900, 1, 1)

# Decimals leave the service as JSON numbers, not strings.
Num = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]

_GERMAN_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_DECIMAL = re.compile(r"^[+-]?([0-9]+([.,][0-9]*)?|[.,][0-9]+)$")  # ASCII digits only


def parse_day(value: object) -> object:
    """``2025-03-14`` or the German ``14.03.2025`` as a date; anything else unchanged (pydantic
    then names the field). Used by every form and CLI option that takes a date."""
    if isinstance(value, str):
        text = value.strip()
        m = _GERMAN_DATE.match(text)
        if m:
            day, month, year = (int(g) for g in m.groups())
            try:
                return date(year, month, day)
            except ValueError:
                raise ValueError(f"no such day {text!r}") from None
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ValueError("expected a date as YYYY-MM-DD or DD.MM.YYYY") from None
    if isinstance(value, int | float | Decimal):  # pydantic would read 0 as 1970-01-01
        raise ValueError("expected a date as YYYY-MM-DD or DD.MM.YYYY")
    return value


def day_field(text: str, field: str) -> date | None:
    """A typed date for ``field`` (ISO or German), None when left empty: the one reader behind
    every CLI date option and web form date, refusing with the field and the accepted forms."""
    if not text.strip():
        return None
    try:
        day = parse_day(text)
    except ValueError as exc:
        raise InputError(field, str(exc), text) from None
    assert isinstance(day, date)
    return day


def parse_decimal(value: object) -> object:
    """``80.5`` or ``80,5`` (German decimal comma) as a Decimal; no thousands separators."""
    if isinstance(value, bool):  # true is not a weight
        raise ValueError("expected a number such as 80.5 or 80,5")
    if isinstance(value, str):
        text = value.strip()
        if not _DECIMAL.match(text):
            raise ValueError("expected a number such as 80.5 or 80,5")
        try:
            return Decimal(text.replace(",", "."))
        except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
            raise ValueError("expected a number such as 80.5 or 80,5") from None
    return value


Day = Annotated[date, BeforeValidator(parse_day)]
Dec = Annotated[Decimal, BeforeValidator(parse_decimal)]

_FOLD = str.maketrans({"ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "ł": "l", "đ": "d"})


def fold(text: str) -> str:
    """Lower case without accents, for searching: 'Zoë MÜLLER' -> 'zoe muller'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# Deutsche Post: German postcodes (Postleitzahlen) have five digits [dp-plz]. Other countries:
# 3-10 letters, digits, spaces or hyphens (the range of the UPU list [upu-postcodes]).
_POSTCODE_DE = re.compile(r"^\d{5}$")
_POSTCODE_OTHER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]{1,8}[A-Za-z0-9]$")
# A practical e-mail check (one @, a dot in the domain, no spaces); not the full RFC 5322.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Phone: digits with the usual separators, optionally a leading +; 6-20 digits (ITU-T E.164
# numbers have at most 15 digits [itu-e164], extensions add a few).
_PHONE = re.compile(r"^\+?[0-9 ()/.-]+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


def _iso_country(code: str) -> bool:
    """An assigned ISO 3166-1 alpha-2 code (XX, ZZ or QQ look like one and are not)."""
    import pycountry  # its database loads on first use: not at every CLI start

    return pycountry.countries.get(alpha_2=code) is not None


def check_birth_date(v: date | None) -> date | None:
    if v is None:
        return v
    if v > clinic_today():
        raise ValueError("must not be in the future")
    if v < EARLIEST_BIRTH_DATE:
        raise ValueError(f"must be after {EARLIEST_BIRTH_DATE.isoformat()}")
    return v


class _PatientFields(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("weight_kg", "height_cm", check_fields=False)
    @classmethod
    def _one_decimal(cls, v: Decimal | None) -> Decimal | None:
        return None if v is None else v.quantize(Decimal("0.1"))

    @field_validator("birth_date", check_fields=False)
    @classmethod
    def _birth_date(cls, v: date | None) -> date | None:
        return check_birth_date(v)

    @field_validator(
        "name", "street", "city", "insurer", "insurance_number", "physician", check_fields=False
    )
    @classmethod
    def _text(cls, v: str | None) -> str | None:
        if v is not None and (reason := refuse_reason(v)) is not None:
            raise ValueError(reason)
        return v

    @field_validator("name", check_fields=False)
    @classmethod
    def _a_name(cls, v: str | None) -> str | None:
        # A name is read, searched and printed: it needs a letter (a lone combining accent or
        # punctuation shows as an empty, unclickable row).
        if v is not None and not any(unicodedata.category(c).startswith("L") for c in v):
            raise ValueError("a name needs at least one letter")
        return v

    @field_validator("country", check_fields=False)
    @classmethod
    def _country(cls, v: str | None) -> str | None:
        if v is None:
            return v
        code = v.strip().upper()
        if not _COUNTRY.match(code) or not _iso_country(code):
            raise ValueError("not a country code of ISO 3166-1 such as DE, AT, CH")
        return code

    @field_validator("email", check_fields=False)
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v is not None and not _EMAIL.match(v):
            raise ValueError("not an e-mail address such as name@example.de")
        return v

    @field_validator("phone", check_fields=False)
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if v is None:
            return v
        digits = sum(c.isdecimal() for c in v)
        if not _PHONE.match(v) or not 6 <= digits <= 20:
            raise ValueError("a phone number of 6-20 digits, e.g. +49 89 1234567")
        return v


def check_postcode(postcode: str | None, country: str | None) -> None:
    """A German postcode has five digits; other countries' are checked for their shape only."""
    if postcode is None:
        return
    if (country or "DE") == "DE":
        if not _POSTCODE_DE.match(postcode):
            raise ValueError("postcode: a German postcode has five digits, e.g. 80331")
    elif not _POSTCODE_OTHER.match(postcode):
        raise ValueError("postcode: 3-10 letters, digits, spaces or hyphens")


def age_months(birth: date, on: date) -> float:
    months = (on.year - birth.year) * 12 + (on.month - birth.month)
    if on.day < birth.day:
        months -= 1
    return float(months) + 0.5  # within the month: the reference's mid-month convention


Text200 = Annotated[str | None, Field(min_length=1, max_length=200)]


class _MasterData(_PatientFields):
    """Address and insurance details, optional on both register and edit."""

    street: Text200 = None
    postcode: str | None = Field(default=None, min_length=1, max_length=10)
    city: str | None = Field(default=None, min_length=1, max_length=100)
    country: str | None = None
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)
    insurer: Text200 = None
    insurance_number: str | None = Field(default=None, min_length=1, max_length=40)
    physician: Text200 = None


class PatientCreate(_MasterData):
    name: str = Field(min_length=1, max_length=200)
    birth_date: Day
    sex: Sex
    weight_kg: Dec = Field(ge=WEIGHT_MIN_KG, le=WEIGHT_MAX_KG, decimal_places=1)
    height_cm: Dec = Field(ge=HEIGHT_MIN_CM, le=HEIGHT_MAX_CM, decimal_places=1)
    insurance: Insurance
    menopausal_status: Menopause | None = None
    # The diagnosis is printed on invoices (a private insurer needs it to reimburse) unless the
    # patient has asked to keep it off; stored as ``icd_consent`` since migration 0001.
    icd_consent: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.sex is Sex.MALE and self.menopausal_status is not None:
            raise ValueError("menopausal_status: only for female patients")
        check_postcode(self.postcode, self.country)
        if self.insurance is Insurance.SELF_PAYER and self.insurer is not None:
            raise ValueError("insurer: a self-payer has no insurer (or choose --insurance private)")
        # Children: weight and height within what children of that age and sex have.
        months = age_months(self.birth_date, clinic_today())
        for problem in implausible_for_age(
            self.sex, months, weight_kg=float(self.weight_kg), height_cm=float(self.height_cm)
        ):
            raise ValueError(f"{problem.field}: {problem.reason}")
        return self


class PatientUpdate(_MasterData):
    """Only the fields given change; ``menopausal_status`` may be set back to None."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    birth_date: Day | None = None
    sex: Sex | None = None
    weight_kg: Dec | None = Field(
        default=None, ge=WEIGHT_MIN_KG, le=WEIGHT_MAX_KG, decimal_places=1
    )
    height_cm: Dec | None = Field(
        default=None, ge=HEIGHT_MIN_CM, le=HEIGHT_MAX_CM, decimal_places=1
    )
    insurance: Insurance | None = None
    menopausal_status: Menopause | None = None
    icd_consent: bool | None = None
    # Master data (see _MasterData) may be set back to None (cleared).


class PatientPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    birth_date: date
    sex: Sex
    weight_kg: Num
    height_cm: Num
    insurance: Insurance
    menopausal_status: Menopause | None
    icd_consent: bool
    street: str | None = None
    postcode: str | None = None
    city: str | None = None
    country: str | None = None
    phone: str | None = None
    email: str | None = None
    insurer: str | None = None
    insurance_number: str | None = None
    physician: str | None = None
    created_at: datetime
    updated_at: datetime | None
    deleted_at: datetime | None


def _fields(p: Patient) -> dict[str, Any]:
    return {k: getattr(p, k) for k in PatientCreate.model_fields}


def postal_address(p: Patient | PatientPublic) -> tuple[str, ...]:
    """The address lines under the name on a letter (DIN 5008 order: street, postcode and
    city, then the country when it is not Germany [din5008]); empty when none is recorded."""
    lines: list[str] = []
    if p.street:
        lines.append(p.street)
    place = " ".join(x for x in (p.postcode, p.city) if x)
    if place:
        lines.append(place)
    if p.country and p.country != "DE":
        lines.append(p.country)
    return tuple(lines)


def load_patient(session: Session, patient_id: int, *, include_deleted: bool = False) -> Patient:
    """The patient row (for other services); soft-deleted patients count as not found."""
    p = session.get(Patient, patient_id)
    if p is None or (p.deleted_at is not None and not include_deleted):
        raise NotFoundError("patient", patient_id)
    return p


def add_patient(
    session: Session, actor: Actor, data: PatientCreate, *, now: datetime | None = None
) -> PatientPublic:
    require_clinical_writer(actor)
    act_as(session, actor)
    values = data.model_dump()
    p = Patient(
        **{
            **values,
            "sex": data.sex.value,
            "insurance": data.insurance.value,
            "menopausal_status": data.menopausal_status.value if data.menopausal_status else None,
        },
        name_folded=fold(data.name),
        created_at=utcnow(now),
    )
    session.add(p)
    session.flush()
    return PatientPublic.model_validate(p)


def get_patient(
    session: Session, actor: Actor, patient_id: int, *, include_deleted: bool = False
) -> PatientPublic:
    require_reader(actor)
    return PatientPublic.model_validate(
        load_patient(session, patient_id, include_deleted=include_deleted)
    )


def list_patients(
    session: Session,
    actor: Actor,
    search: str | None = None,
    *,
    include_deleted: bool = False,
    limit: int | None = None,
) -> list[PatientPublic]:
    """Patients by name (substring ignoring case and accents) or exact id, ordered by name.

    All of them unless ``limit`` says otherwise: a list cut silently (it was at 200) hides a
    registered patient, and the front desk registers them a second time."""
    require_reader(actor)
    stmt = select(Patient).order_by(Patient.name, Patient.id).limit(limit)
    if not include_deleted:
        stmt = stmt.where(Patient.deleted_at.is_(None))
    term = (search or "").strip()
    if term:
        needle = fold(term)
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        by_name = func.coalesce(Patient.name_folded, func.lower(Patient.name)).like(
            f"%{escaped}%", escape="\\"
        )
        stmt = stmt.where(by_name | (Patient.id == int(term)) if term.isdecimal() else by_name)
    return [PatientPublic.model_validate(p) for p in session.scalars(stmt)]


def edit_patient(
    session: Session,
    actor: Actor,
    patient_id: int,
    changes: PatientUpdate,
    *,
    now: datetime | None = None,
) -> PatientPublic:
    require_clinical_writer(actor)
    act_as(session, actor)
    p = load_patient(session, patient_id)
    given = changes.model_dump(exclude_unset=True)
    merged = PatientCreate.model_validate({**_fields(p), **given})  # whole-record consistency
    if "birth_date" in given:
        earliest = earliest_record_date(session, p)
        if earliest is not None and merged.birth_date > earliest:
            raise InputError(
                "birth_date",
                f"must not be after the patient's records (the earliest is of "
                f"{earliest.isoformat()})",
                merged.birth_date.isoformat(),
            )
    changed = False
    for key in given:
        new = getattr(merged, key)
        new = new.value if hasattr(new, "value") else new
        if getattr(p, key) != new:
            setattr(p, key, new)
            changed = True
    if changed:
        p.name_folded = fold(p.name)
        p.updated_at = utcnow(now)
        session.flush()
    return PatientPublic.model_validate(p)


def earliest_record_date(session: Session, p: Patient) -> date | None:
    """The earliest calendar date recorded for the patient (diagnoses, findings, DXA,
    fractures, fracture history, courses): a birth date may not come after it."""
    candidates: list[date] = []
    if p.fracture_history_on is not None:
        candidates.append(p.fracture_history_on)
    for column, owner in (
        (Diagnosis.diagnosed_on, Diagnosis.patient_id),
        (ScreeningFinding.event_date, ScreeningFinding.patient_id),
        (BmdMeasurement.measured_on, BmdMeasurement.patient_id),
        (VertebralFracture.occurred_on, VertebralFracture.patient_id),
        (Course.start_date, Course.patient_id),
    ):
        d = session.scalar(select(func.min(column)).where(owner == p.id))
        if d is not None:
            candidates.append(d)
    return min(candidates, default=None)


def delete_patient(
    session: Session, actor: Actor, patient_id: int, *, now: datetime | None = None
) -> PatientPublic:
    """Soft delete: the record and its history stay; lists and lookups stop showing it.

    The patient's planned sessions are cancelled with it (each change in the audit log): a
    deleted patient's appointments are shown nowhere, so left planned they would hold the
    table against every other booking. Refused while one of the patient's sessions runs."""
    require_physician(actor, "delete a patient")
    act_as(session, actor)
    p = load_patient(session, patient_id)
    stamp = utcnow(now)
    sessions = session.scalars(
        select(TreatmentSession)
        .join(Course, TreatmentSession.course_id == Course.id)
        .where(Course.patient_id == patient_id)
    ).all()
    running = [s for s in sessions if s.status == SessionStatus.RUNNING.value]
    if running:
        raise InputError(
            "patient",
            f"a session of this patient is running (session {running[0].id}): stop it first",
            patient_id,
        )
    for s in sessions:
        if s.status == SessionStatus.PLANNED.value:
            s.status = SessionStatus.CANCELLED.value
            s.updated_at = stamp
    p.deleted_at = stamp
    session.flush()
    return PatientPublic.model_validate(p)
