"""Open data from the store: a patient's FHIR bundle round-trips to the stored record, a course
archive holds every session that ran, and a DXA import gives screening and the bone assessment
the same answers as the same results typed in."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from spinecare.clinical.vocab import BmdSite
from spinecare.cohort.run import VirtualSession, make_table
from spinecare.errors import InputError
from spinecare.interop import fhir
from spinecare.interop.dxa_csv import dxa_from_csv
from spinecare.interop.tables import archive_check
from spinecare.runtime.clock import SimulatedClock
from spinecare.services import dxa, export
from spinecare.services.auth import Actor
from spinecare.services.courses import CoursePlan, plan_course
from spinecare.services.diagnoses import DiagnosisCreate, add_diagnosis
from spinecare.services.errors import PermissionDeniedError
from spinecare.services.findings import BmdCreate, list_bmd, record_bmd
from spinecare.services.outcomes import NrsRecord, parse_odi, record_nrs, record_odi
from spinecare.services.patients import add_patient
from spinecare.services.screening import evaluate_screening
from spinecare.services.sessions import SessionOptions, attach_output, planned_protocol, session_run
from spinecare.store.audit import AuditedSession
from spinecare.store.enums import Role
from spinecare.vocab import Region
from tests.services.conftest import next_weekday, patient_data
from tests.services.test_screening_courses import _complete_screening


def _ran(
    db: AuditedSession, actor: Actor, session_id: int, out: Path, *, emg: bool = False
) -> None:
    """Run a short simulated session of the planned protocol and attach its output."""
    proto = planned_protocol(db, actor, session_id).model_copy(update={"traction_minutes": 0.3})
    vs = VirtualSession(seed=4, region=Region.LUMBAR, weight_kg=float(proto.body_weight_kg),
                        segment=proto.segment, minutes=0.3, emg=emg)  # fmt: skip
    options = SessionOptions(clock=SimulatedClock(), fsync=False, emg=emg)
    session_run(proto, lambda now: make_table(vs, now), options=options, out_dir=out)
    attach_output(db, actor, session_id, out)


@pytest.fixture
def clinic(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int, tmp_path: Path
) -> dict[str, int]:
    doc, ther = actors[Role.PHYSICIAN], actors[Role.THERAPIST]
    _complete_screening(db, ther, patient_id)
    add_diagnosis(db, doc, patient_id, DiagnosisCreate(
        icd10="M51.2", text="Lumbar disc displacement", diagnosed_on=date(2026, 1, 5)))  # fmt: skip
    course = plan_course(db, doc, CoursePlan(
        patient_id=patient_id, region="lumbar", segment="L4/5", sessions=15,
        start=next_weekday(0)))  # fmt: skip
    s1 = course.sessions[0].id
    _ran(db, ther, s1, tmp_path / "s1")
    record_nrs(db, ther, s1, NrsRecord(nrs_before=7, nrs_after=4))
    record_odi(db, ther, parse_odi("3,2,1,,2,2,1,0,2,1"), session_id=s1)
    db.commit()
    return {"patient": patient_id, "course": course.id, "session": s1}


def test_the_patient_bundle_is_the_stored_record(
    db: AuditedSession, actors: dict[Role, Actor], clinic: dict[str, int]
) -> None:
    reader = actors[Role.BILLING]
    record = export.patient_record(db, reader, clinic["patient"])
    assert len(record.sessions) == 1 and record.sessions[0].summary is not None
    assert {o.kind for o in record.outcomes} == {"nrs_before", "nrs_after", "odi"}
    text = export.patient_bundle_json(db, reader, clinic["patient"])
    assert fhir.record_from_bundle(fhir.parse_bundle(text)) == record
    kinds = sorted(e["resource"]["resourceType"] for e in json.loads(text)["entry"])
    assert kinds.count("Procedure") == 1 and kinds.count("Condition") == 1
    assert kinds.count("Observation") == 2 + 3  # lumbar BMD and T-score; NRS x2 and ODI


def test_the_course_archive_holds_every_session_that_ran(
    db: AuditedSession, actors: dict[Role, Actor], clinic: dict[str, int]
) -> None:
    data = export.course_archive_bytes(db, actors[Role.THERAPIST], clinic["course"])
    names = set(archive_check(data))
    assert {"sessions/01/telemetry.csv", "sessions/01/summary.csv",
            "sessions/01/session.json", "course.json", "outcomes.csv"} <= names  # fmt: skip
    assert not any(n.startswith("sessions/02/") for n in names)  # planned: nothing ran
    zf = zipfile.ZipFile(io.BytesIO(data))
    course = json.loads(zf.read("course.json"))
    assert len(course["sessions"]) == 15 and course["sessions"][0]["summary"]["completed"]
    outcomes = zf.read("outcomes.csv").decode().splitlines()
    assert outcomes[0] == "session_number,kind,value,recorded_at" and len(outcomes) == 4
    session = export.session_export(db, actors[Role.THERAPIST], clinic["session"])
    assert session.summary is not None and len(session.telemetry["t_s"]) > 100


def test_a_session_with_emg_exports_its_raw_samples_but_the_course_archive_does_not(
    db: AuditedSession, actors: dict[Role, Actor], clinic: dict[str, int], tmp_path: Path
) -> None:
    from spinecare.interop.tables import session_files
    from spinecare.store.models import Course

    ther = actors[Role.THERAPIST]
    course = db.get(Course, clinic["course"])
    assert course is not None
    s2 = course.sessions[1].id
    _ran(db, ther, s2, tmp_path / "s2", emg=True)
    db.commit()
    raw = (tmp_path / "s2" / "emg.txt").read_bytes()
    files = session_files(export.session_export(db, ther, s2))
    assert files["emg.txt"] == raw  # byte for byte: `emg detect` reads it as the session wrote it
    assert "emg.txt" not in session_files(export.session_export(db, ther, clinic["session"]))
    names = archive_check(export.course_archive_bytes(db, ther, clinic["course"]))
    assert "sessions/02/session.json" in names and not any(n.endswith("emg.txt") for n in names)


def test_a_deleted_patient_is_not_exported(
    db: AuditedSession, actors: dict[Role, Actor], clinic: dict[str, int]
) -> None:
    from spinecare.services.errors import NotFoundError
    from spinecare.services.patients import delete_patient

    delete_patient(db, actors[Role.PHYSICIAN], clinic["patient"])
    with pytest.raises(NotFoundError):
        export.patient_record(db, actors[Role.THERAPIST], clinic["patient"])


DXA = [
    ("lumbar_spine", "0.780", "-2.9", "-2.1"),
    ("femoral_neck", "0.440", None, None),  # 51% of the young-adult mean: 49% bone loss
    ("total_hip", None, "-3.4", None),
]


def test_a_dxa_import_gives_the_answers_of_typed_findings(
    db: AuditedSession, actors: dict[Role, Actor]
) -> None:
    ther = actors[Role.THERAPIST]
    typed = add_patient(db, ther, patient_data(name="Typed")).id
    imported = add_patient(db, ther, patient_data(name="Imported")).id
    for pid in (typed, imported):
        _complete_screening(db, ther, pid)
    when = date(2026, 3, 2)
    for site, bmd, t, z in DXA:
        record_bmd(db, ther, typed, BmdCreate.model_validate({
            "measured_on": when, "site": site, "bmd_g_cm2": bmd, "t_score": t, "z_score": z,
            "device": "Lunar iDXA"}))  # fmt: skip
    # The same results, as another system's FHIR Observations (BMD in mg/cm2, LOINC-coded
    # where LOINC has a code) plus spinecare's own codes for the rest, about the patient they
    # are imported for (a bundle about another patient is refused: tests/services/test_dxa.py).
    source = export.patient_record(db, ther, typed)
    whom = export.patient_record(db, ther, imported).patient
    bundle = fhir.bundle_json(source.model_copy(update={"bmd": source.bmd[-3:], "patient": whom}))
    parsed = dxa.dxa_parse(bundle)
    done = dxa.import_dxa(db, ther, imported, parsed)
    assert len(done.stored) == 3 and not done.already
    # Stored exactly as typed...
    strip = ("id", "patient_id", "created_at")
    rows = [
        sorted((b.model_dump(exclude=set(strip)) for b in list_bmd(db, ther, pid)[-3:]),
               key=lambda r: r["site"])
        for pid in (typed, imported)
    ]  # fmt: skip
    assert rows[0] == rows[1]
    # ...so screening decides the same...
    on = date(2026, 4, 1)
    a = evaluate_screening(db, ther, typed, Region.LUMBAR, on)
    b = evaluate_screening(db, ther, imported, Region.LUMBAR, on)
    assert a.model_dump() == b.model_dump()
    assert a.decision.value == "not_eligible"  # past the seed's 45% bone loss
    # ...and each stored site is rated as `bone classify` rates it.
    by_site = {row.site: r for row, r in done.assessments}
    assert by_site[BmdSite.FEMORAL_NECK].exceeds_seed_bone_loss_threshold
    # Importing the same file again stores nothing twice.
    again = dxa.import_dxa(db, ther, imported, parsed)
    assert not again.stored and len(again.already) == 3


def test_a_bad_row_stores_nothing(db: AuditedSession, actors: dict[Role, Actor]) -> None:
    ther = actors[Role.THERAPIST]
    pid = add_patient(db, ther, patient_data(name="Bad")).id
    text = ("measured_on,site,bmd_g_cm2,t_score\n2026-03-02,lumbar_spine,0.9,-1.0\n"
            "2030-01-01,total_hip,0.9,-1.0\n")  # fmt: skip
    with pytest.raises(InputError, match="total_hip on 2030-01-01: measured_on: must not be"):
        dxa.import_dxa(db, ther, pid, dxa_from_csv(text))
    assert list_bmd(db, ther, pid) == []
    with pytest.raises(PermissionDeniedError):
        dxa.import_dxa(db, actors[Role.BILLING], pid, dxa_from_csv(text))


def test_dxa_parse_tells_fhir_from_csv() -> None:
    assert dxa.dxa_parse("measured_on,site,t_score\n2026-01-01,total_hip,-1\n").measurements
    with pytest.raises(InputError, match="not JSON"):
        dxa.dxa_parse("{oops")
    assert (
        Decimal("-1")
        == dxa.dxa_parse(
            '{"resourceType":"Observation","status":"final","code":{"coding":[{"system":'
            '"http://loinc.org","code":"38264-8"}]},"effectiveDateTime":"2026-01-01",'
            '"valueQuantity":{"value":-1}}'
        )
        .measurements[0]
        .t_score
    )


@pytest.mark.parametrize("telemetry", ["missing", "unreadable"])
def test_a_session_without_readable_telemetry_still_exports_its_events(
    db: AuditedSession, actors: dict[Role, Actor], clinic: dict[str, int], tmp_path: Path,
    telemetry: str,
) -> None:  # fmt: skip
    """The stops and faults are what a reader needs most when the telemetry is gone."""
    from spinecare.interop.tables import session_files

    run = tmp_path / "s1"
    lines = (run / "events.jsonl").read_text().splitlines()
    assert lines  # the run wrote events: what must not be lost
    if telemetry == "missing":
        (run / "telemetry.csv").unlink()
    else:
        (run / "telemetry.csv").write_bytes(b"t_s,phase\n\xff\xfe,\x80\n")  # not UTF-8
    for got in (
        export.session_export_dir(run),
        export.session_export(db, actors[Role.THERAPIST], clinic["session"]),
    ):
        doc = json.loads(session_files(got)["session.json"])
        assert len(doc["events"]) == len(lines)
        assert doc["telemetry"] is None and "telemetry" in doc["telemetry_error"]
        assert "events_error" not in doc
    (run / "events.jsonl").unlink()
    doc = json.loads(session_files(export.session_export_dir(run))["session.json"])
    assert doc["events"] == [] and "no events.jsonl" in doc["events_error"]
