"""The patient record as a FHIR R4B bundle: validated by fhir.resources, coded with the LOINC
and ICD-10-GM codes a receiving system looks for, and read back into the same record; DXA
results from other systems' Observations."""

from __future__ import annotations

import functools
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fhir.resources.R4B.bundle import Bundle
from hypothesis import given, settings
from hypothesis import strategies as st

from spinecare.clinical.vocab import BmdSite, Sex
from spinecare.errors import InputError
from spinecare.interop import fhir
from spinecare.interop.records import (
    BmdData,
    DiagnosisData,
    OutcomeData,
    PatientData,
    PatientRecord,
    SessionData,
)
from spinecare.runtime.summary import SessionSummary
from spinecare.vocab import Region

STAMP = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


@functools.cache
def summary() -> SessionSummary:
    """The typed summary of a real (short, simulated) session."""
    from spinecare.cohort.run import VirtualSession, make_table
    from spinecare.runtime.clock import SimulatedClock
    from spinecare.services.sessions import SessionOptions, session_run

    vs = VirtualSession(seed=2, region=Region.LUMBAR, weight_kg=80.0, segment="L4/5", minutes=0.5)
    done = session_run(
        vs.protocol(),
        lambda now: make_table(vs, now),
        options=SessionOptions(clock=SimulatedClock(), fsync=False),
    )
    return done.summary


def record(**over: object) -> PatientRecord:
    data: dict[str, object] = {
        "patient": PatientData(id=7, name="Erika Mustermann", birth_date=date(1958, 3, 14),
                               sex=Sex.FEMALE),
        "diagnoses": [DiagnosisData(id=1, icd10="M51.2", text="Lumbar disc displacement",
                                    diagnosed_on=date(2026, 1, 5))],
        "bmd": [
            BmdData(id=3, measured_on=date(2026, 1, 10), site=BmdSite.LUMBAR_SPINE,
                    bmd_g_cm2=Decimal("0.912"), t_score=Decimal("-1.8"), z_score=Decimal("-0.9"),
                    device="Hologic Horizon A", manufacturer="Hologic"),
            BmdData(id=4, measured_on=date(2026, 1, 10), site=BmdSite.FEMORAL_NECK,
                    bmd_g_cm2=Decimal("0.640"), t_score=Decimal("-2.6")),
            BmdData(id=5, measured_on=date(2026, 1, 10), site=BmdSite.TOTAL_HIP,
                    t_score=Decimal("-2.1"), valid=False),
        ],
        "outcomes": [
            OutcomeData(id=10, kind="nrs_before", value=Decimal(7),
                        recorded_at=datetime(2026, 2, 2, 8, 0, tzinfo=UTC), course_id=2,
                        session_number=1),
            OutcomeData(id=11, kind="nrs_after", value=Decimal(4),
                        recorded_at=datetime(2026, 2, 2, 8, 40, tzinfo=UTC), course_id=2,
                        session_number=1),
            OutcomeData(id=12, kind="odi", value=Decimal("31.11"),
                        recorded_at=datetime(2026, 2, 1, 9, 0, tzinfo=UTC), course_id=2),
        ],
        "sessions": [
            SessionData(id=20, course_id=2, number=1, status="done",
                        scheduled_start=datetime(2026, 2, 2, 8, 5, tzinfo=UTC),
                        region=Region.LUMBAR, segment="L4/5", summary=summary()),
            SessionData(id=21, course_id=2, number=2, status="aborted",
                        scheduled_start=datetime(2026, 2, 4, 8, 5, tzinfo=UTC),
                        region=Region.LUMBAR, segment="L4/5"),
        ],
    }  # fmt: skip
    data.update(over)
    return PatientRecord.model_validate(data)


def resources(text: str, kind: str) -> list[dict[str, object]]:
    entries = json.loads(text)["entry"]
    return [e["resource"] for e in entries if e["resource"]["resourceType"] == kind]


def codes(res: dict[str, object], system: str) -> set[str]:
    return {c["code"] for c in res["code"]["coding"] if c["system"] == system}  # type: ignore[index]


def test_the_bundle_is_valid_r4b_and_reads_back_into_the_same_record() -> None:
    rec = record()
    text = fhir.bundle_json(rec, timestamp=STAMP)
    bundle = Bundle.model_validate_json(text)  # the library's own validation
    assert bundle.type == "collection" and len(bundle.entry) == 1 + 1 + 6 + 3 + 3
    assert fhir.record_from_bundle(fhir.parse_bundle(text)) == rec
    # The same record gives the same bundle (name-based ids, fixed timestamp).
    assert fhir.bundle_json(rec, timestamp=STAMP) == text


def test_codes_a_receiving_system_looks_for() -> None:
    text = fhir.bundle_json(record(), timestamp=STAMP)
    obs = resources(text, "Observation")
    loinc = [codes(o, fhir.LOINC) for o in obs]
    for code in ("24966-4", "38267-1", "38263-0", "38264-8", "72514-3", "97909-6"):
        assert {code} in loinc, code
    # No LOINC code is claimed for what the brief's list does not cover (femoral neck BMD, Z).
    fn_bmd = [o for o in obs if codes(o, fhir.SC_CODE) == {"dxa-bmd-femoral_neck"}]
    assert fn_bmd and not codes(fn_bmd[0], fhir.LOINC)
    (cond,) = resources(text, "Condition")
    assert codes(cond, fhir.ICD10GM) == {"M51.2"}
    units = {o["valueQuantity"]["code"] for o in obs if "valueQuantity" in o}  # type: ignore[index]
    assert {"g/cm2", "{T-score}", "%"} <= units
    (patient,) = resources(text, "Patient")
    assert patient["gender"] == "female" and patient["birthDate"] == "1958-03-14"


def test_each_session_is_a_procedure_with_its_force_summary() -> None:
    text = fhir.bundle_json(record(), timestamp=STAMP)
    done, stopped = sorted(resources(text, "Procedure"), key=lambda p: p["identifier"][0]["value"])  # type: ignore[index]
    assert done["status"] == "completed" and stopped["status"] == "stopped"
    s = summary()
    ext = next(e for e in done["extension"] if e["url"] == fhir.EXT_FORCE)  # type: ignore[union-attr]
    parts = {p["url"]: p for p in ext["extension"]}
    assert parts["peak-force"]["valueQuantity"] == {
        "value": s.peak_force_n,
        "unit": "N",
        "system": fhir.UCUM,
        "code": "N",
    }
    assert parts["guarding-detected"]["valueInteger"] == s.guarding_detected
    assert parts["simulated"]["valueBoolean"] is s.simulated
    (doc,) = resources(text, "DocumentReference")  # the whole typed summary rides along
    assert doc["content"][0]["attachment"]["contentType"] == "application/json"  # type: ignore[index]
    # Pain scores point at the session they belong to.
    nrs = [o for o in resources(text, "Observation") if codes(o, fhir.LOINC) == {"72514-3"}]
    assert all(o["partOf"] for o in nrs)


decimals = st.decimals(min_value=Decimal("-9.9"), max_value=Decimal("9.9"), places=1)


@settings(max_examples=40, deadline=None)
@given(
    bmd=st.none() | st.decimals(min_value=Decimal("0.100"), max_value=Decimal("2.900"), places=3),
    t=decimals,
    z=st.none() | decimals,
    site=st.sampled_from(list(BmdSite)),
    valid=st.booleans(),
    nrs=st.integers(0, 10),
    odi=st.decimals(min_value=Decimal("0.00"), max_value=Decimal("100.00"), places=2),
)
def test_any_record_round_trips(
    bmd: Decimal | None, t: Decimal, z: Decimal | None, site: BmdSite, valid: bool, nrs: int,
    odi: Decimal,
) -> None:  # fmt: skip
    rec = record(
        bmd=[BmdData(id=1, measured_on=date(2025, 12, 1), site=site, bmd_g_cm2=bmd, t_score=t,
                     z_score=z, valid=valid)],
        outcomes=[
            OutcomeData(id=1, kind="nrs_after", value=Decimal(nrs),
                        recorded_at=datetime(2026, 1, 1, 10, 0, 0, 123456, tzinfo=UTC),
                        course_id=2, session_number=1),
            OutcomeData(id=2, kind="odi", value=odi,
                        recorded_at=datetime(2026, 1, 1, 10, tzinfo=UTC), course_id=2),
        ],
    )  # fmt: skip
    assert fhir.record_from_bundle(fhir.parse_bundle(fhir.bundle_json(rec))) == rec


def observation(code: str, value: float, unit: str, **over: object) -> dict[str, object]:
    obs: dict[str, object] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "effectiveDateTime": "2026-03-02T09:30:00+01:00",
        "valueQuantity": {"value": value, "unit": unit, "system": fhir.UCUM, "code": unit},
    }
    obs.update(over)
    return obs


def test_dxa_from_another_systems_observations() -> None:
    items = [
        observation("24966-4", 912, "mg/cm2", device={"display": "Lunar iDXA"}),
        observation("38267-1", -1.8, "{T-score}", device={"display": "Lunar iDXA"}),
        observation("38263-0", -2.6, "{T-score}"),
        observation("38263-0", -2.9, "{T-score}", status="preliminary"),
        observation("8480-6", 120, "mm[Hg]"),  # blood pressure: not DXA
        {"resourceType": "Patient"},
    ]
    got = fhir.dxa_from_fhir(json.dumps(items))
    assert got.measurements == [
        BmdData(measured_on=date(2026, 3, 2), site=BmdSite.FEMORAL_NECK, t_score=Decimal("-2.6")),
        BmdData(measured_on=date(2026, 3, 2), site=BmdSite.LUMBAR_SPINE,
                bmd_g_cm2=Decimal("0.912"), t_score=Decimal("-1.8"), device="Lunar iDXA"),
    ]  # fmt: skip
    reasons = " | ".join(got.skipped)
    assert "a Patient, not an Observation" in reasons
    assert "status preliminary" in reasons and "not a DXA result" in reasons
    # A bundle works the same way.
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": items[2]}]}  # fmt: skip
    assert len(fhir.dxa_from_fhir(json.dumps(bundle)).measurements) == 1


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ("{not json", "not JSON"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ([observation("24966-4", 0.9, "kg")], "expected g/cm2"),
        ([observation("38267-1", -1.0, "1"), observation("38267-1", -2.0, "1")],
         "two different T-scores"),
        ([{"resourceType": "Observation", "status": "final", "code": "x"}],
         "not a valid Observation"),
    ],
)  # fmt: skip
def test_bad_dxa_files_say_what_is_wrong(items: object, message: str) -> None:
    text = items if isinstance(items, str) else json.dumps(items)
    with pytest.raises(InputError, match=message):
        fhir.dxa_from_fhir(text)


def test_a_bundle_that_is_not_one_is_refused() -> None:
    with pytest.raises(InputError, match="not a valid FHIR R4B Bundle"):
        fhir.parse_bundle('{"resourceType": "Bundle", "type": 5, "entry": "x"}')
    with pytest.raises(InputError, match="nested too deeply"):
        fhir.parse_bundle("[" * 100_000 + "]" * 100_000)


# -- hostile DXA files: every outcome a result or an InputError ----------------------------------
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                max_size=3),
    max_leaves=4,
)  # fmt: skip


def _dxa_file() -> list[dict[str, object]]:
    """Observations of every shape the reader looks into: LOINC and spinecare codes, a period,
    an id, the manufacturer and validity extensions, inside a Bundle and outside one."""
    ours = observation("38267-1", -1.8, "{T-score}")
    ours["identifier"] = [{"system": "urn:spinecare:bmd", "value": "3"}]
    ours["extension"] = [
        {"url": fhir.EXT_MANUFACTURER, "valueString": "GE"},
        {"url": fhir.EXT_BMD_VALID, "valueBoolean": False},
    ]
    ours["code"]["coding"].append({"system": fhir.SC_CODE, "code": "dxa-t-score-lumbar_spine"})
    period = observation("38263-0", -2.6, "{T-score}", effectivePeriod={"start": "2026-03-02"})
    del period["effectiveDateTime"]
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"fullUrl": "urn:uuid:1", "resource": period}]}  # fmt: skip
    return [observation("24966-4", 0.9, "g/cm2", device={"display": "Lunar"}), ours, bundle]


def _places(node: object, at: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [at]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _places(v, (*at, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _places(v, (*at, i))
    return out


@st.composite
def _mutated(draw: st.DrawFn) -> object:
    doc: object = json.loads(json.dumps(_dxa_file()))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.sampled_from(_places(doc)))
        if not at:
            continue
        parent: Any = doc
        for key in at[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[at[-1]]
        else:
            parent[at[-1]] = draw(_JSON)
    return doc


@settings(max_examples=400, deadline=None)
@given(_mutated())
def test_any_mutated_dxa_file_is_read_or_refused_with_an_input_error(doc: object) -> None:
    """A value of any JSON kind anywhere (``"code": null`` was an AttributeError, status 70; a
    ``"resourceType": null`` inside a Bundle a TypeError inside fhir.resources)."""
    try:
        got = fhir.dxa_from_fhir(json.dumps(doc), zone=ZoneInfo("Europe/Berlin"))
    except InputError as exc:
        assert "pydantic.dev" not in str(exc)
        return
    for m in got.measurements:
        assert isinstance(m, BmdData)


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ({"code": None}, "no code"),
        ({"effectiveDateTime": 1700000000}, "effectiveDateTime must be a JSON string"),
        ({"valueQuantity": {"value": True, "unit": "g/cm2"}}, "must be a JSON number"),
        ({"extension": [{"url": fhir.EXT_BMD_VALID}]}, "bmd-valid extension has no valueBoolean"),
        ({"extension": [{"url": fhir.EXT_BMD_VALID, "valueBoolean": "no"}]}, "JSON boolean"),
    ],
)  # fmt: skip
def test_wrong_kinds_are_named(resource: dict[str, object], message: str) -> None:
    item = {**observation("24966-4", 0.9, "g/cm2"), **resource}
    try:
        got = fhir.dxa_from_fhir(json.dumps([item]))
    except InputError as exc:
        assert message in str(exc)
    else:
        assert not got.measurements and message in " ".join(got.skipped)


def test_an_instant_is_stored_on_the_clinics_day() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    late = observation("24966-4", 0.9, "g/cm2", effectiveDateTime="2026-11-29T23:30:00-10:00")
    early = observation("24966-4", 0.8, "g/cm2", effectiveDateTime="2026-11-30T00:30:00+14:00")
    days = [
        m.measured_on
        for obs in (late, early)
        for m in fhir.dxa_from_fhir(json.dumps([obs]), zone=berlin).measurements
    ]
    assert days == [date(2026, 11, 30), date(2026, 11, 29)]


# -- hostile JSON: one InputError, never RecursionError or ValueError (status 70) -----------------
def _deep_extension(levels: int) -> dict[str, object]:
    ext: dict[str, object] = {"url": "urn:x", "valueString": "y"}
    for _ in range(levels):
        ext = {"url": "urn:x", "extension": [ext]}
    return {**observation("24966-4", 0.9, "g/cm2"), "extension": [ext]}


def _huge_value() -> str:
    return json.dumps(observation("24966-4", 0.9, "g/cm2")).replace("0.9", "9" * 5000)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (json.dumps(_deep_extension(160)), "nested too deeply"),
        (json.dumps([_deep_extension(160)]), "nested too deeply"),
        (json.dumps({"resourceType": "Bundle", "type": "collection",
                     "entry": [{"resource": _deep_extension(160)}]}), "nested too deeply"),
        (_huge_value(), "more than 4300 digits"),
        (f"[{_huge_value()}]", "more than 4300 digits"),
        ('{"resourceType": "Bundle", "type": "collection", "total": ' + "7" * 5000 + "}",
         "more than 4300 digits"),
    ],
    ids=["deep-observation", "deep-list", "deep-bundle", "digits-observation", "digits-list",
         "digits-bundle"],
)  # fmt: skip
def test_hostile_json_is_one_input_error(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as exc:
        fhir.dxa_from_fhir(text)
    assert exc.value.field == "file" and "\n" not in str(exc.value)
    assert "set_int_max_str_digits" not in str(exc.value)


def test_a_hostile_bundle_text_is_one_input_error() -> None:
    with pytest.raises(InputError, match="more than 4300 digits"):
        fhir.parse_bundle('{"resourceType": "Bundle", "total": ' + "7" * 5000 + "}")


# -- who the results are about: read here, compared in services/dxa.py -----------------------
ELSEWHERE = "urn:uuid:5e0f0cb4-7a43-4d0c-8a8e-9f1b2c3d4e5f"  # a Patient not in the file


def _claims(items: object) -> list[tuple[str, str, str, tuple[str, ...]]]:
    got = fhir.dxa_from_fhir(json.dumps(items))
    return [(c.where, c.field, c.kind, c.values) for c in got.subjects]


def test_a_spinecare_bundle_says_whose_it_is() -> None:
    claims = _claims(json.loads(fhir.bundle_json(record(), timestamp=STAMP)))
    assert claims[:3] == [
        ("item 1 entry 1", "Patient.identifier", "patient_id", ("7",)),
        ("item 1 entry 1", "Patient.birthDate", "birth_date", ("1958-03-14",)),
        ("item 1 entry 1", "Patient.name", "name", ("Erika Mustermann",)),
    ]
    assert len(claims) == 3  # every subject resolves to that Patient: nothing more to check


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        (None, []),
        # a reference nothing in the file resolves names another system's patient as often
        # as spinecare's: not compared (services.dxa notes it for the user)
        ({"reference": "Patient/1"}, [("Observation.subject", "unchecked", ("Patient/1",))]),
        ({"reference": "Patient/1/_history/2"},
         [("Observation.subject", "unchecked", ("Patient/1/_history/2",))]),
        ({"identifier": {"system": "urn:spinecare:patient", "value": "4"}},
         [("Observation.subject.identifier", "patient_id", ("4",))]),
        ({"display": "Erika Mustermann"},
         [("Observation.subject.display", "name", ("Erika Mustermann",))]),
        ({"reference": ELSEWHERE}, [("Observation.subject", "unchecked", (ELSEWHERE,))]),
        ({"identifier": {"system": "http://klinik.example/mrn", "value": "A-17"}},
         [("Observation.subject", "unchecked", ("identifier http://klinik.example/mrn|A-17",))]),
    ],
)  # fmt: skip
def test_an_observations_subject_is_returned_as_written(
    subject: dict[str, object] | None, expected: list[tuple[str, str, tuple[str, ...]]]
) -> None:
    obs = observation("24966-4", 0.9, "g/cm2")
    if subject is not None:
        obs["subject"] = subject
    assert [c[1:] for c in _claims([obs])] == expected


def test_a_subject_resolved_in_the_file_is_that_patients_claims() -> None:
    contained = {
        **observation("24966-4", 0.9, "g/cm2"),
        "subject": {"reference": "#p"},
        "contained": [{"resourceType": "Patient", "id": "p", "birthDate": "1960"}],
    }
    listed = {**observation("38267-1", -1.0, "{T-score}"), "subject": {"reference": "Patient/q"}}
    patient = {
        "resourceType": "Patient",
        "id": "q",
        "name": [{"family": "Muster", "given": ["Erika"]}],
    }
    assert [c[1:] for c in _claims([patient, contained, listed])] == [
        ("Patient.name", "name", ("Erika Muster",)),
        ("Patient.birthDate", "birth_date", ("1960",)),
    ]  # fmt: skip
