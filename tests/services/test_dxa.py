"""DXA import into the store: results about another patient are never filed under this one (the
newest BMD is the one screening decides with), and one file stores each result once."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from spinecare.errors import InputError
from spinecare.interop import fhir
from spinecare.interop.dxa_csv import dxa_from_csv
from spinecare.services import dxa, export
from spinecare.services.auth import Actor
from spinecare.services.findings import BmdCreate, list_bmd, record_bmd
from spinecare.services.patients import add_patient
from spinecare.store.audit import AuditedSession
from spinecare.store.enums import Role
from tests.services.conftest import patient_data

LUMBAR = {"coding": [{"system": "http://loinc.org", "code": "24966-4"}]}


def _observation(**over: object) -> dict[str, object]:
    return {"resourceType": "Observation", "status": "final", "code": LUMBAR,
            "effectiveDateTime": "2026-03-02",
            "valueQuantity": {"value": 0.85, "unit": "g/cm2"}, **over}  # fmt: skip


@pytest.fixture
def two(db: AuditedSession, actors: dict[Role, Actor]) -> tuple[int, int]:
    """Two patients; the first with a lumbar BMD on record (T -2.9)."""
    ther = actors[Role.THERAPIST]
    first = add_patient(db, ther, patient_data(name="Erika Mustermann")).id
    second = add_patient(db, ther, patient_data(name="Helga Brandt",
                                                birth_date=date(1951, 9, 23))).id  # fmt: skip
    record_bmd(db, ther, first, BmdCreate.model_validate({
        "measured_on": date(2026, 3, 2), "site": "lumbar_spine", "bmd_g_cm2": "0.780",
        "t_score": "-2.9"}))  # fmt: skip
    db.commit()
    return first, second


def test_another_patients_bundle_is_refused_and_nothing_stored(
    db: AuditedSession, actors: dict[Role, Actor], two: tuple[int, int]
) -> None:
    first, second = two
    ther = actors[Role.THERAPIST]
    bundle = export.patient_bundle_json(db, ther, first)
    with pytest.raises(InputError, match=f"names patient {first}, not patient {second}") as exc:
        dxa.import_dxa(db, ther, second, dxa.dxa_parse(bundle))
    assert exc.value.field == "Patient.identifier"
    assert list_bmd(db, ther, second) == []
    # Into the patient it is about: accepted (the result is on record already).
    done = dxa.import_dxa(db, ther, first, dxa.dxa_parse(bundle))
    assert not done.stored and len(done.already) == 1


@pytest.mark.parametrize(
    ("patient", "field"),
    [
        ({"birthDate": "1962-03-14", "name": [{"text": "Erika Mustermann"}]}, "Patient.birthDate"),
        ({"birthDate": "1951-09-23", "name": [{"family": "Brandt", "given": ["Hilde"]}]},
         "Patient.name"),
        ({"birthDate": "1962"}, "Patient.birthDate"),
    ],
)  # fmt: skip
def test_a_patient_whose_birth_date_or_name_is_not_the_targets_is_refused(
    db: AuditedSession,
    actors: dict[Role, Actor],
    two: tuple[int, int],
    patient: dict[str, object],
    field: str,
) -> None:
    """Another system's bundle has no spinecare id: its birth date and name are compared; an
    identifier spinecare cannot compare, with nothing else, cannot show whose results these are."""
    _, second = two
    ther = actors[Role.THERAPIST]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:0a4e5d1c-5b5e-4a8e-9d7e-1f5c3e0b9a11",
         "resource": {"resourceType": "Patient", **patient}},
        {"resource": _observation(
            subject={"reference": "urn:uuid:0a4e5d1c-5b5e-4a8e-9d7e-1f5c3e0b9a11"})},
    ]}  # fmt: skip
    with pytest.raises(InputError) as exc:
        dxa.import_dxa(db, ther, second, dxa.dxa_parse(json.dumps(bundle)))
    assert exc.value.field == field and "\n" not in str(exc.value)
    assert list_bmd(db, ther, second) == []


def test_the_same_patient_written_another_way_is_accepted(
    db: AuditedSession, actors: dict[Role, Actor], two: tuple[int, int]
) -> None:
    _, second = two
    ther = actors[Role.THERAPIST]
    items = [
        {"resourceType": "Patient", "id": "p7", "birthDate": "1951-09-23",
         "name": [{"family": "BRANDT", "given": ["Helga", "Maria"]}]},
        _observation(subject={"reference": "Patient/p7"}),  # resolved in the file
        _observation(effectiveDateTime="2026-03-03",
                     subject={"identifier": {"system": "urn:spinecare:patient",
                                             "value": str(second)},
                              "display": "Brandt, Helga"}),
    ]  # fmt: skip
    done = dxa.import_dxa(db, ther, second, dxa.dxa_parse(json.dumps(items)))
    assert len(done.stored) == 2


@pytest.mark.parametrize(
    ("subject", "field"),
    [
        ({"identifier": {"system": "urn:spinecare:patient", "value": "{first}"}},
         "Observation.subject.identifier"),
        ({"display": "Erika Mustermann"}, "Observation.subject.display"),
    ],
)  # fmt: skip
def test_an_observation_about_someone_else_is_refused(
    db: AuditedSession,
    actors: dict[Role, Actor],
    two: tuple[int, int],
    subject: dict[str, object],
    field: str,
) -> None:
    first, second = two
    ther = actors[Role.THERAPIST]
    text = json.dumps(_observation(subject=subject)).replace("{first}", str(first))
    with pytest.raises(InputError) as exc:
        dxa.import_dxa(db, ther, second, dxa.dxa_parse(text))
    assert exc.value.field == field
    assert list_bmd(db, ther, second) == []


@pytest.mark.parametrize(
    "reference", ["Patient/{first}", "https://pacs.example/fhir/Patient/9", "Patient/example"]
)
def test_a_patient_named_only_by_another_system_is_imported_with_a_note_to_check(
    db: AuditedSession, actors: dict[Role, Actor], two: tuple[int, int], reference: str
) -> None:
    """A device's or a hospital's own reference cannot be compared with spinecare's record:
    refused, such files could never be imported. They go to the patient named, and the user
    is told what the file called the patient."""
    first, second = two
    ther = actors[Role.THERAPIST]
    ref = reference.replace("{first}", str(first))
    done = dxa.import_dxa(
        db, ther, second, dxa.dxa_parse(json.dumps(_observation(subject={"reference": ref})))
    )
    assert len(done.stored) == 1
    assert len(done.notes) == 1 and ref in done.notes[0] and "check" in done.notes[0]


def test_results_without_patient_identification_go_to_the_patient_named(
    db: AuditedSession, actors: dict[Role, Actor], two: tuple[int, int]
) -> None:
    _, second = two
    ther = actors[Role.THERAPIST]
    done = dxa.import_dxa(db, ther, second, dxa.dxa_parse(json.dumps(_observation())))
    assert [b.bmd_g_cm2 for b in done.stored] == [Decimal("0.850")]


@pytest.mark.parametrize(
    ("columns", "cells", "field"),
    [("patient_id", "{first}", "patient_id"), ("birth_date", "14.03.1962", "birth_date"),
     ("patient_name", "Erika Mustermann", "patient_name")],
)  # fmt: skip
def test_a_csv_row_about_someone_else_is_refused(
    db: AuditedSession,
    actors: dict[Role, Actor],
    two: tuple[int, int],
    columns: str,
    cells: str,
    field: str,
) -> None:
    first, second = two
    ther = actors[Role.THERAPIST]
    text = (f"measured_on,site,bmd_g_cm2,{columns}\n2026-03-02,lumbar_spine,0.850,{cells}\n"
            ).replace("{first}", str(first))  # fmt: skip
    with pytest.raises(InputError, match="line 2") as exc:
        dxa.import_dxa(db, ther, second, dxa_from_csv(text))
    assert exc.value.field == field and list_bmd(db, ther, second) == []
    own = (f"measured_on,site,bmd_g_cm2,patient_id,birth_date,patient_name\n"
           f"2026-03-02,lumbar_spine,0.85,{second},1951-09-23,Helga Brandt\n")  # fmt: skip
    assert len(dxa.import_dxa(db, ther, second, dxa_from_csv(own)).stored) == 1


def test_a_result_given_twice_in_one_file_is_stored_once(
    db: AuditedSession, actors: dict[Role, Actor], two: tuple[int, int]
) -> None:
    _, second = two
    ther = actors[Role.THERAPIST]
    row = "2026-04-05,lumbar_spine,0.850,-2.4\n"
    text = "measured_on,site,bmd_g_cm2,t_score\n" + row + row.replace("0.850", "0.85")
    done = dxa.import_dxa(db, ther, second, dxa_from_csv(text))
    assert len(done.stored) == 1 and len(done.already) == 1
    assert len(list_bmd(db, ther, second)) == 1


def test_fhir_subjects_come_from_the_parser_not_the_store() -> None:
    """The interop layer reads who a file is about; it never decides (no store there)."""
    got = fhir.dxa_from_fhir(json.dumps(_observation(subject={"reference": "Patient/3"})))
    assert [(c.field, c.kind, c.values) for c in got.subjects] == [
        ("Observation.subject", "unchecked", ("Patient/3",))
    ]
