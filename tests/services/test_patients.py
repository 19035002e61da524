"""Patients: the same behaviour on SQLite and PostgreSQL; edits audited; soft delete."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from spinecare.clinical.vocab import Sex
from spinecare.errors import InputError
from spinecare.services.auth import Actor
from spinecare.services.diagnoses import DiagnosisCreate, add_diagnosis, list_diagnoses
from spinecare.services.errors import NotFoundError, PermissionDeniedError
from spinecare.services.patients import (
    PatientUpdate,
    add_patient,
    delete_patient,
    edit_patient,
    get_patient,
    list_patients,
)
from spinecare.store.audit import AuditedSession, audit_entries
from spinecare.store.enums import Role
from spinecare.store.models import TreatmentSession
from tests.services.conftest import patient_data


def test_add_get_list_search(db: AuditedSession, actors: dict[Role, Actor]) -> None:
    ther = actors[Role.THERAPIST]
    a = add_patient(db, ther, patient_data(name="Anna Schmidt"))
    add_patient(db, ther, patient_data(name="Bernd Müller", sex=Sex.MALE, menopausal_status=None))
    db.commit()
    got = get_patient(db, actors[Role.BILLING], a.id)  # billing may read
    assert got.name == "Anna Schmidt" and got.weight_kg == Decimal("70.0")
    assert got.model_dump(mode="json")["weight_kg"] == 70.0
    assert [p.name for p in list_patients(db, ther)] == ["Anna Schmidt", "Bernd Müller"]
    assert [p.name for p in list_patients(db, ther, "müll")] == ["Bernd Müller"]
    assert [p.name for p in list_patients(db, ther, "SCHMIDT")] == ["Anna Schmidt"]
    assert [p.id for p in list_patients(db, ther, str(a.id))] == [a.id]
    assert list_patients(db, ther, "%") == []  # wildcards are literal


def test_edit_is_audited_with_before_and_after(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    doc = actors[Role.PHYSICIAN]
    out = edit_patient(db, doc, patient_id, PatientUpdate(weight_kg=Decimal("72.5")))
    db.commit()
    assert out.weight_kg == Decimal("72.5")
    last = audit_entries(db, "patients", patient_id)[-1]
    assert (last.actor, last.action) == ("physician", "update")
    assert last.before is not None and last.after is not None
    assert Decimal(last.before["weight_kg"]) == Decimal("70.0")
    assert Decimal(last.after["weight_kg"]) == Decimal("72.5")
    # a no-op edit writes nothing
    edit_patient(db, doc, patient_id, PatientUpdate(weight_kg=Decimal("72.5")))
    db.commit()
    assert len(audit_entries(db, "patients", patient_id)) == 2


def test_edit_revalidates_the_whole_record(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    with pytest.raises(ValidationError, match="menopausal_status"):
        edit_patient(db, actors[Role.PHYSICIAN], patient_id, PatientUpdate(sex=Sex.MALE))


def test_soft_delete(db: AuditedSession, actors: dict[Role, Actor], patient_id: int) -> None:
    with pytest.raises(PermissionDeniedError):
        delete_patient(db, actors[Role.THERAPIST], patient_id)
    delete_patient(db, actors[Role.PHYSICIAN], patient_id)
    db.commit()
    with pytest.raises(NotFoundError):
        get_patient(db, actors[Role.PHYSICIAN], patient_id)
    assert list_patients(db, actors[Role.PHYSICIAN]) == []
    kept = get_patient(db, actors[Role.PHYSICIAN], patient_id, include_deleted=True)
    assert kept.deleted_at is not None and kept.name == "Erika Mustermann"
    assert audit_entries(db, "patients", patient_id)[-1].action == "delete"


def test_deleting_a_patient_frees_their_appointments(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    """A deleted patient's planned sessions used to stay booked: shown nowhere, they held the
    table against every other booking. They are cancelled with the patient (audited); what
    ran stays as it was; a running session refuses the deletion."""
    from tests.services.test_invoices import _course

    course = _course(db, patient_id, done=2, planned=3)
    ids = {s.id: s.status for s in course.sessions}
    running = next(s for s in course.sessions if s.status == "planned")
    running.status = "running"
    db.commit()
    with pytest.raises(InputError, match="running"):
        delete_patient(db, actors[Role.PHYSICIAN], patient_id)
    db.rollback()
    running.status = "planned"
    db.commit()
    delete_patient(db, actors[Role.PHYSICIAN], patient_id)
    db.commit()
    after = {s.id: s.status for s in db.scalars(select(TreatmentSession)).all()}
    assert after == {k: "done" if v == "done" else "cancelled" for k, v in ids.items()}
    planned = [k for k, v in ids.items() if v == "planned"]
    assert audit_entries(db, "sessions", planned[0])[-1].actor == "physician"


def test_billing_cannot_change_clinical_data(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    bill = actors[Role.BILLING]
    with pytest.raises(PermissionDeniedError):
        edit_patient(db, bill, patient_id, PatientUpdate(weight_kg=Decimal(71)))
    with pytest.raises(PermissionDeniedError):
        add_patient(db, bill, patient_data())


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("birth_date", date.today() + timedelta(days=30)),  # a run may cross midnight
        ("weight_kg", Decimal(0)),
        ("height_cm", Decimal(20)),
        ("sex", "X"),
        ("insurance", "gkv"),
        # the wrong kind of value: pydantic alone reads 0 as 1970-01-01 and true as 1
        ("birth_date", 0),
        ("birth_date", 1.5e9),
        ("weight_kg", True),
        ("weight_kg", "\u0667\u0660"),  # Arabic-Indic 70: a digit, but not one a clinic types
        # invisible format characters and names without a letter look like another record
        ("name", "Erika\u200bMustermann"),
        ("name", "\ufeffErika Mustermann"),
        ("name", "Erika Muster\u00admann"),
        ("name", "Erika \U000e0041Mustermann"),
        ("name", "\u0301"),
        ("name", "---"),
    ],
)
def test_bad_patient_input_names_the_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        patient_data(**{field: value})


def test_diagnoses(db: AuditedSession, actors: dict[Role, Actor], patient_id: int) -> None:
    doc = actors[Role.PHYSICIAN]
    d = add_diagnosis(
        db,
        doc,
        patient_id,
        DiagnosisCreate(icd10="m51.2", text="Lumbar disc", diagnosed_on=date(2026, 1, 2)),
    )
    assert d.icd10 == "M51.2"
    assert [x.icd10 for x in list_diagnoses(db, actors[Role.BILLING], patient_id)] == ["M51.2"]
    with pytest.raises(PermissionDeniedError):
        add_diagnosis(
            db,
            actors[Role.THERAPIST],
            patient_id,
            DiagnosisCreate(icd10="M54.5", text="LBP", diagnosed_on=date(2026, 1, 2)),
        )
    with pytest.raises(ValidationError, match="icd10"):
        DiagnosisCreate(icd10="51.2M", text="x", diagnosed_on=date(2026, 1, 2))


def _years_ago(years: int, days: int = 30) -> date:
    today = date.today()
    return date(today.year - years, today.month, 1) - timedelta(days=days)


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"birth_date": _years_ago(3), "weight_kg": Decimal(80)}, "weight_kg"),  # named case
        (
            {"birth_date": _years_ago(6), "weight_kg": Decimal(30), "height_cm": Decimal(200)},
            "height_cm",
        ),
        ({"birth_date": _years_ago(10), "weight_kg": Decimal(250)}, "weight_kg"),
        ({"name": "Erika\x1b[2J"}, "name"),
        ({"name": "\u202eakirE"}, "name"),
        ({"sex": Sex.MALE, "menopausal_status": "pre"}, "menopausal_status"),
    ],
)
def test_states_that_are_not_stored(over: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        patient_data(**over)


def test_plausible_children_and_adults_are_registered(
    db: AuditedSession, actors: dict[Role, Actor]
) -> None:
    ther = actors[Role.THERAPIST]
    add_patient(db, ther, patient_data(birth_date=_years_ago(15), weight_kg=Decimal(55),
                                       height_cm=Decimal(165), menopausal_status=None))  # fmt: skip
    add_patient(db, ther, patient_data(weight_kg=Decimal(180)))  # an adult of 180 kg


def test_a_birth_date_is_not_moved_after_the_patients_records(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    doc = actors[Role.PHYSICIAN]
    add_diagnosis(
        db, doc, patient_id, DiagnosisCreate(icd10="M51.2", text="x", diagnosed_on=date(1990, 5, 1))
    )
    db.commit()
    with pytest.raises(InputError, match="birth_date") as err:
        edit_patient(db, doc, patient_id, PatientUpdate(birth_date=date(1991, 1, 1)))
    assert "1990-05-01" in err.value.reason
    db.rollback()
    assert get_patient(db, doc, patient_id).birth_date == date(1962, 3, 14)
    edit_patient(db, doc, patient_id, PatientUpdate(birth_date=date(1961, 1, 1)))


def test_master_data_typed_the_german_way(db: AuditedSession, actors: dict[Role, Actor]) -> None:
    from spinecare.services.patients import PatientCreate, postal_address

    data = PatientCreate.model_validate(
        {
            "name": "Jörg Müller", "birth_date": "14.05.1961", "sex": "M", "weight_kg": "80,5",
            "height_cm": "178", "insurance": "private", "street": "Leopoldstraße 12",
            "postcode": "80802", "city": "München", "phone": "+49 89 1234567",
            "email": "j.mueller@example.de", "insurer": "Allianz Private Krankenversicherung",
            "insurance_number": "A123456789", "physician": "Dr. med. Eva Huber",
        }
    )  # fmt: skip
    p = add_patient(db, actors[Role.THERAPIST], data)
    db.commit()
    assert p.birth_date == date(1961, 5, 14) and p.weight_kg == Decimal("80.5")
    assert postal_address(p) == ("Leopoldstraße 12", "80802 München")
    assert p.icd_consent  # the diagnosis is printed unless the patient asks otherwise
    for term in ("MÜLLER", "muller", "jorg", "Müll"):
        assert [x.name for x in list_patients(db, actors[Role.THERAPIST], term)] == [p.name]


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("postcode", "8080", "five digits"),
        ("email", "nobody-at-example.de", "e-mail"),
        ("phone", "call me", "phone"),
        ("birth_date", "31.02.1961", "no such day"),
        ("weight_kg", "80,5,1", "number"),
        ("country", "Deutschland", "country code"),
        ("country", "XX", "country code of ISO 3166-1"),
    ],
)
def test_every_master_data_error_names_its_field(field: str, value: str, reason: str) -> None:
    from spinecare.errors import describe_validation_error
    from spinecare.services.patients import PatientCreate

    raw = {**patient_data().model_dump(mode="json"), field: value}
    with pytest.raises(ValidationError) as exc:
        PatientCreate.model_validate(raw)
    message = describe_validation_error(exc.value)
    assert message.startswith(field) and reason in message


def test_names_in_scripts_that_need_the_joiners_are_kept() -> None:
    """The zero-width joiner and non-joiner are part of how Persian and Indic names are
    written; only the other invisible format characters are refused."""
    assert patient_data(name="Mehr\u200cdad Rahimi").name == "Mehr\u200cdad Rahimi"
    assert patient_data(name="\u0915\u094d\u200d\u0937").name == "\u0915\u094d\u200d\u0937"
