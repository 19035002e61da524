"""A patient's record as a FHIR R4B bundle [fhir-r4b], and back; DXA results from FHIR
Observations.

The bundle (type ``collection``) holds: the Patient; a Condition per diagnosis (ICD-10-GM
[icd10gm]); Observations for each DXA site (BMD, T-score, Z-score), pain NRS before and after
sessions and the Oswestry Disability Index (LOINC [loinc] where a code exists: 24966-4 lumbar
BMD, 38267-1 lumbar T-score, 38263-0 femur T-score, 38264-8 hip T-score, 72514-3 pain NRS,
97909-6 ODI; every Observation also carries spinecare's own code, so nothing is coded with a
LOINC code we have not checked); a Procedure per decompression session that ran, with its
force summary as an extension and the whole typed session summary as a DocumentReference.
Resources are built as FHIR JSON and validated by ``fhir.resources`` (R4B models); ids are
name-based UUIDs, so the same record always gives the same bundle. Only scores are exported for
the ODI, never its questionnaire text, which is copyrighted.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from spinecare.clinical.vocab import BmdSite, Sex
from spinecare.errors import InputError, describe_validation_error
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

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"  # units g/cm2, N, N.s, s, %, {T-score} [ucum]
# The code system URL of ICD-10-GM used by the German FHIR base profiles [fhir-de-basis].
ICD10GM = "http://fhir.de/CodeSystem/bfarm/icd-10-gm"
CLINICAL_STATUS = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
# spinecare's own identifiers, codes and extensions (URNs: they name, they do not resolve).
SC = "urn:spinecare"
SC_CODE = f"{SC}:code"
SC_EXT = f"{SC}:fhir"
EXT_FORCE = f"{SC_EXT}:force-summary"
EXT_COURSE = f"{SC_EXT}:course"
EXT_SESSION_NUMBER = f"{SC_EXT}:session-number"
EXT_BMD_VALID = f"{SC_EXT}:bmd-valid"
EXT_MANUFACTURER = f"{SC_EXT}:dxa-manufacturer"
_NS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:spinecare:fhir")

# LOINC codes [loinc] for DXA results, by (quantity, site). Sites without a code here are
# exported with spinecare's code only.
DXA_LOINC: dict[tuple[str, BmdSite], str] = {
    ("bmd", BmdSite.LUMBAR_SPINE): "24966-4",
    ("t-score", BmdSite.LUMBAR_SPINE): "38267-1",
    ("t-score", BmdSite.FEMORAL_NECK): "38263-0",
    ("t-score", BmdSite.TOTAL_HIP): "38264-8",
}
LOINC_DXA = {code: key for key, code in DXA_LOINC.items()}
NRS_LOINC = "72514-3"
ODI_LOINC = "97909-6"
SITE_TEXT = {
    BmdSite.LUMBAR_SPINE: "lumbar spine L1-L4",
    BmdSite.FEMORAL_NECK: "femoral neck",
    BmdSite.TOTAL_HIP: "total hip",
    BmdSite.RADIUS_33: "radius 33%",
}
QUANTITY_TEXT = {"bmd": "bone mineral density (DXA)", "t-score": "T-score", "z-score": "Z-score"}
DXA_QUANTITIES = ("bmd", "t-score", "z-score")
PROCEDURE_STATUS = {"done": "completed", "aborted": "stopped", "running": "in-progress"}
STATUS_OF_PROCEDURE = {v: k for k, v in PROCEDURE_STATUS.items()}
FINAL_STATUSES = frozenset({"final", "amended", "corrected"})
DECOMPRESSION_TEXT = "Spinal decompression: computer-controlled intermittent traction"


def _uuid(*parts: object) -> str:
    return f"urn:uuid:{uuid.uuid5(_NS, '/'.join(str(p) for p in parts))}"


def _iso(t: datetime) -> str:
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.isoformat()


def _quantity(value: Decimal | float, unit: str) -> dict[str, Any]:
    return {"value": float(value), "unit": unit, "system": UCUM, "code": unit}


def _sc_identifier(kind: str, value: int) -> list[dict[str, Any]]:
    return [{"system": f"{SC}:{kind}", "value": str(value)}]


# -- record -> bundle ------------------------------------------------------------------------
def bundle_from_record(record: PatientRecord, *, timestamp: datetime | None = None) -> Any:
    """The record as a validated ``fhir.resources.R4B.bundle.Bundle``."""
    from fhir.resources.R4B.bundle import Bundle

    pid = record.patient.id
    patient_url = _uuid("patient", pid)
    entries: list[dict[str, Any]] = [{"fullUrl": patient_url, "resource": _patient(record.patient)}]
    subject = {"reference": patient_url}
    for d in record.diagnoses:
        entries.append({"fullUrl": _uuid("patient", pid, "diagnosis", d.id),
                        "resource": _condition(d, subject)})  # fmt: skip
    for i, b in enumerate(record.bmd):
        key = b.id if b.id is not None else f"new{i}"
        entries.extend(_bmd_entries(b, pid, key, subject))
    procedures: dict[tuple[int | None, int | None], str] = {}
    for s in record.sessions:
        url = _uuid("patient", pid, "course", s.course_id, "session", s.number)
        procedures[(s.course_id, s.number)] = url
        entries.extend(_procedure_entries(s, url, pid, subject))
    for o in record.outcomes:
        part_of = procedures.get((o.course_id, o.session_number))
        entries.append({"fullUrl": _uuid("patient", pid, "outcome", o.id),
                        "resource": _outcome(o, subject, part_of)})  # fmt: skip
    data = {
        "resourceType": "Bundle",
        "type": "collection",
        "identifier": {"system": f"{SC}:patient-record", "value": str(pid)},
        "timestamp": _iso(timestamp or datetime.now(UTC)),
        "entry": entries,
    }
    return Bundle.model_validate(data)


def bundle_json(record: PatientRecord, *, timestamp: datetime | None = None) -> str:
    bundle = bundle_from_record(record, timestamp=timestamp)
    return json.dumps(bundle.model_dump(mode="json", exclude_none=True), indent=2) + "\n"


def _patient(p: PatientData) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": _sc_identifier("patient", p.id),
        "name": [{"text": p.name}],
        "gender": "female" if p.sex is Sex.FEMALE else "male",
        "birthDate": p.birth_date.isoformat(),
    }


def _condition(d: DiagnosisData, subject: dict[str, str]) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "identifier": _sc_identifier("diagnosis", d.id),
        "clinicalStatus": {"coding": [{"system": CLINICAL_STATUS, "code": "active"}]},
        "verificationStatus": {"coding": [{"system": VERIFICATION, "code": "confirmed"}]},
        "code": {"coding": [{"system": ICD10GM, "code": d.icd10}], "text": d.text},
        "subject": subject,
        "recordedDate": d.diagnosed_on.isoformat(),
    }


def _dxa_code(quantity: str, site: BmdSite) -> dict[str, Any]:
    coding = []
    loinc = DXA_LOINC.get((quantity, site))
    if loinc is not None:
        coding.append({"system": LOINC, "code": loinc})
    coding.append({"system": SC_CODE, "code": f"dxa-{quantity}-{site.value}"})
    return {"coding": coding, "text": f"DXA {SITE_TEXT[site]}: {QUANTITY_TEXT[quantity]}"}


def _bmd_entries(
    b: BmdData, pid: int, key: object, subject: dict[str, str]
) -> list[dict[str, Any]]:
    values = {"bmd": b.bmd_g_cm2, "t-score": b.t_score, "z-score": b.z_score}
    units = {"bmd": "g/cm2", "t-score": "{T-score}", "z-score": "{Z-score}"}
    urls = {q: _uuid("patient", pid, "bmd", key, q) for q in DXA_QUANTITIES}
    extension: list[dict[str, Any]] = []
    if b.manufacturer:
        extension.append({"url": EXT_MANUFACTURER, "valueString": b.manufacturer})
    if not b.valid:
        extension.append({"url": EXT_BMD_VALID, "valueBoolean": False})
    out = []
    for q in DXA_QUANTITIES:
        v = values[q]
        if v is None:
            continue
        res: dict[str, Any] = {
            "resourceType": "Observation",
            "status": "final",
            "category": [{"coding": [{"system": OBS_CATEGORY, "code": "imaging"}]}],
            "code": _dxa_code(q, b.site),
            "subject": subject,
            "effectiveDateTime": b.measured_on.isoformat(),
            "valueQuantity": _quantity(v, units[q]),
            "bodySite": {"text": SITE_TEXT[b.site]},
        }
        if b.id is not None:
            res["identifier"] = _sc_identifier("bmd", b.id)
        if b.device:
            res["device"] = {"display": b.device}
        if extension:
            res["extension"] = extension
        if q != "bmd" and values["bmd"] is not None:
            res["derivedFrom"] = [{"reference": urls["bmd"]}]
        out.append({"fullUrl": urls[q], "resource": res})
    return out


def _outcome(o: OutcomeData, subject: dict[str, str], part_of: str | None) -> dict[str, Any]:
    ext: list[dict[str, Any]] = []
    if o.course_id is not None:
        ext.append({"url": EXT_COURSE, "valueInteger": o.course_id})
    if o.session_number is not None:
        ext.append({"url": EXT_SESSION_NUMBER, "valueInteger": o.session_number})
    res: dict[str, Any] = {
        "resourceType": "Observation",
        "identifier": _sc_identifier("outcome", o.id),
        "status": "final",
        "category": [{"coding": [{"system": OBS_CATEGORY, "code": "survey"}]}],
        "subject": subject,
        "effectiveDateTime": _iso(o.recorded_at),
    }
    if o.kind == "odi":
        res["code"] = {
            "coding": [{"system": LOINC, "code": ODI_LOINC}, {"system": SC_CODE, "code": "odi"}],
            "text": "Oswestry Disability Index (score only)",
        }
        res["valueQuantity"] = _quantity(o.value, "%")
    else:
        when = "before" if o.kind == "nrs_before" else "after"
        res["code"] = {
            "coding": [
                {"system": LOINC, "code": NRS_LOINC},
                {"system": SC_CODE, "code": f"nrs-{when}"},
            ],
            "text": f"Pain intensity, numeric rating scale 0-10, {when} the session",
        }
        res["valueInteger"] = int(o.value)
    if part_of is not None:
        res["partOf"] = [{"reference": part_of}]
    if ext:
        res["extension"] = ext
    return res


def _force_extension(s: SessionSummary) -> dict[str, Any]:
    def q(url: str, value: float | None, unit: str) -> dict[str, Any] | None:
        return None if value is None else {"url": url, "valueQuantity": _quantity(value, unit)}

    parts = [
        q("peak-force", s.peak_force_n, "N"),
        q("final-peak-target", s.final_peak_target_n, "N"),
        q("effective-limit", s.effective_limit_n, "N"),
        q("force-time-integral", s.force_time_integral_ns, "N.s"),
        q("hold-time", s.hold_time_s, "s"),
        q("base-tension-lost", s.base_tension_lost_s, "s"),
        q("segment-force-hold-mean-model-estimate", s.segment_force_hold_mean_n, "N"),
        {"url": "guarding-detected", "valueInteger": s.guarding_detected},
        {"url": "limit-violations", "valueInteger": s.limit_violations},
        {"url": "completed", "valueBoolean": s.completed},
        {"url": "stopped", "valueBoolean": s.stopped},
        {"url": "faulted", "valueBoolean": s.faulted},
        {"url": "simulated", "valueBoolean": s.simulated},
    ]
    if s.hold_within_10pct is not None:
        parts.append({"url": "hold-within-10pct", "valueDecimal": s.hold_within_10pct})
    return {"url": EXT_FORCE, "extension": [p for p in parts if p is not None]}


def _procedure_entries(
    s: SessionData, url: str, pid: int, subject: dict[str, str]
) -> list[dict[str, Any]]:
    start = s.scheduled_start if s.scheduled_start.tzinfo else s.scheduled_start.replace(tzinfo=UTC)
    res: dict[str, Any] = {
        "resourceType": "Procedure",
        "identifier": _sc_identifier("session", s.id),
        "status": PROCEDURE_STATUS.get(s.status, "unknown"),
        "code": {"coding": [{"system": SC_CODE, "code": "spinal-decompression"}],
                 "text": DECOMPRESSION_TEXT},
        "subject": subject,
        "bodySite": [{
            "coding": [{"system": f"{SC_CODE}:region", "code": s.region.value},
                       {"system": f"{SC_CODE}:segment", "code": s.segment}],
            "text": f"{s.region.value} spine, {s.segment}",
        }],
        "extension": [
            {"url": EXT_COURSE, "valueInteger": s.course_id},
            {"url": EXT_SESSION_NUMBER, "valueInteger": s.number},
        ],
    }  # fmt: skip
    out = [{"fullUrl": url, "resource": res}]
    summary = s.summary
    if summary is None:
        res["performedDateTime"] = _iso(start)
        return out
    end = start + timedelta(seconds=summary.duration_s)
    res["performedPeriod"] = {"start": _iso(start), "end": _iso(end)}
    res["outcome"] = {"text": summary.end_reason}
    res["extension"].append(_force_extension(summary))
    res["note"] = [{"text": (
        f"peak {summary.peak_force_n:g} N (target {summary.final_peak_target_n:g} N), "
        f"{summary.guarding_detected} counter-tension episodes, {summary.end_reason}; force at "
        f"{summary.target_segment} is a model estimate"
        + ("; simulated table" if summary.simulated else "")
    )}]  # fmt: skip
    doc_url = _uuid("patient", pid, "course", s.course_id, "session", s.number, "summary")
    res["report"] = [{"reference": doc_url}]
    raw = summary.model_dump_json().encode()
    doc = {
        "resourceType": "DocumentReference",
        "status": "current",
        "subject": subject,
        "description": "spinecare session summary (typed, versioned JSON)",
        "content": [{"attachment": {"contentType": "application/json",
                                    "data": base64.b64encode(raw).decode("ascii"),
                                    "title": "summary.json"}}],
    }  # fmt: skip
    out.append({"fullUrl": doc_url, "resource": doc})
    return out


# -- bundle -> record ------------------------------------------------------------------------
def parse_bundle(text: str | bytes | Mapping[str, Any]) -> Any:
    """Validate a FHIR R4B bundle (JSON text or parsed); an InputError says what is wrong."""
    from fhir.resources.R4B.bundle import Bundle

    data = load_json(text, "a FHIR Bundle") if isinstance(text, str | bytes) else dict(text)
    return validated(Bundle, data, "FHIR R4B Bundle")


# What fhir.resources raises, instead of a ValidationError, for some malformed resources: a
# ``"resourceType": null`` inside a Bundle entry is concatenated to a string (TypeError), an
# unknown one is looked up in its type map (KeyError). The input is wrong, not spinecare.
_LIBRARY_CRASHES = (TypeError, KeyError, AttributeError, ValueError)


def load_json(text: str | bytes, what: str) -> Any:
    """JSON from an untrusted file, or an InputError: every way ``json.loads`` fails on what
    a file holds is bad input, not an internal error. Besides a syntax error, that is nesting
    deeper than the interpreter's stack (RecursionError) and an integer of more than 4300
    digits (a ValueError: CPython's default ``int_max_str_digits``); no FHIR value is either."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError("file", f"not JSON: {exc}") from None
    except RecursionError:  # "[[[[..." thousands deep: no FHIR resource nests like that
        raise InputError("file", f"JSON nested too deeply to be {what}") from None
    except ValueError:  # "Exceeds the limit (4300 digits) for integer string conversion"
        raise InputError(
            "file", f"a number of more than 4300 digits: not {what} (no FHIR value is that long)"
        ) from None


def validated(model: Any, data: Any, what: str) -> Any:
    """``model.model_validate(data)`` for data from an untrusted file: a validation error, a
    resource nested deeper than the validator's recursion (150 ``extension`` levels suffice)
    and the library's own crashes are each one InputError naming ``what``."""
    try:
        return model.model_validate(data)
    except InputError:
        raise
    except ValidationError as exc:
        raise InputError("file", f"not a valid {what}: {describe_validation_error(exc)}") from None
    except RecursionError:
        raise InputError("file", f"not a valid {what}: nested too deeply") from None
    except _LIBRARY_CRASHES as exc:
        raise InputError("file", f"not a valid {what} ({type(exc).__name__})") from None


def _ident(res: Any, kind: str) -> int | None:
    for i in res.identifier or ():
        if i.system == f"{SC}:{kind}" and i.value is not None and str(i.value).isdecimal():
            return int(i.value)
    return None


def _codes(concept: Any) -> dict[str, str]:
    """A CodeableConcept's codes by system; none for an absent one (``"code": null`` passes
    fhir.resources although FHIR requires it)."""
    if concept is None:
        return {}
    return {c.system: c.code for c in (concept.coding or ()) if c.system and c.code}


def _ext(res: Any, url: str) -> Any:
    for e in res.extension or ():
        if e.url == url:
            return e
    return None


def record_from_bundle(bundle: Any) -> PatientRecord:
    """A spinecare bundle back into the record it was made from."""
    by_url = {e.fullUrl: e.resource for e in bundle.entry or ()}
    patients = [r for r in by_url.values() if r.get_resource_type() == "Patient"]
    if len(patients) != 1:
        raise InputError("file", f"a patient record bundle holds one Patient, not {len(patients)}")
    p = patients[0]
    pid = _ident(p, "patient")
    patient = PatientData(
        id=pid if pid is not None else 0,
        name=(p.name[0].text if p.name else "") or "",
        birth_date=p.birthDate,
        sex=Sex.FEMALE if p.gender == "female" else Sex.MALE,
    )
    diagnoses, outcomes, sessions = [], [], []
    dxa_obs = []
    for res in by_url.values():
        kind = res.get_resource_type()
        if kind == "Condition":
            diagnoses.append(DiagnosisData(
                id=_ident(res, "diagnosis") or 0,
                icd10=_codes(res.code).get(ICD10GM, ""),
                text=res.code.text or "",
                diagnosed_on=_as_date(res.recordedDate),
            ))  # fmt: skip
        elif kind == "Observation":
            local = _codes(res.code).get(SC_CODE, "")
            if local.startswith("dxa-"):
                dxa_obs.append(res)
            elif local in ("nrs-before", "nrs-after", "odi"):
                outcomes.append(_outcome_of(res, local))
        elif kind == "Procedure":
            sessions.append(_session_of(res, by_url))
    bmd = dxa_from_observations(dxa_obs, keep_ids=True).measurements
    return PatientRecord(
        patient=patient,
        diagnoses=sorted(diagnoses, key=lambda d: d.id),
        bmd=bmd,
        outcomes=sorted(outcomes, key=lambda o: o.id),
        sessions=sorted(sessions, key=lambda s: (s.course_id, s.number)),
    )


def _as_date(v: Any) -> date:
    return v.date() if isinstance(v, datetime) else v


def _outcome_of(res: Any, local: str) -> OutcomeData:
    course = _ext(res, EXT_COURSE)
    number = _ext(res, EXT_SESSION_NUMBER)
    value = res.valueQuantity.value if local == "odi" else Decimal(res.valueInteger)
    return OutcomeData(
        id=_ident(res, "outcome") or 0,
        kind={"nrs-before": "nrs_before", "nrs-after": "nrs_after", "odi": "odi"}[local],
        value=Decimal(str(value)),
        recorded_at=res.effectiveDateTime,
        course_id=course.valueInteger if course is not None else None,
        session_number=number.valueInteger if number is not None else None,
    )


def _session_of(res: Any, by_url: Mapping[str, Any]) -> SessionData:
    site = _codes(res.bodySite[0]) if res.bodySite else {}
    start = res.performedPeriod.start if res.performedPeriod else res.performedDateTime
    summary = None
    for ref in res.report or ():
        doc = by_url.get(ref.reference)
        if doc is not None and doc.get_resource_type() == "DocumentReference":
            raw = doc.content[0].attachment.data
            try:
                summary = SessionSummary.model_validate_json(raw)
            except RecursionError:
                raise InputError(
                    "file", "a session summary in the bundle is nested too deeply"
                ) from None
            except ValueError as exc:  # a ValidationError, or the JSON's own ValueError
                raise InputError(
                    "file", f"a session summary in the bundle is invalid: {exc}"
                ) from None
    return SessionData(
        id=_ident(res, "session") or 0,
        course_id=_ext(res, EXT_COURSE).valueInteger,
        number=_ext(res, EXT_SESSION_NUMBER).valueInteger,
        status=STATUS_OF_PROCEDURE.get(res.status, res.status),
        scheduled_start=start,
        region=Region(site.get(f"{SC_CODE}:region", "lumbar")),
        segment=site.get(f"{SC_CODE}:segment", ""),
        summary=summary,
    )


# -- DXA Observations (ours or another system's) ---------------------------------------------
SC_PATIENT = f"{SC}:patient"


@dataclass(frozen=True, slots=True)
class SubjectClaim:
    """Who a part of an imported file says its results are about, as written there.

    The parser only reads it: this package does not see the store (import-linter), so
    ``services/dxa.py`` compares each claim with the patient the file is imported for and
    refuses the file when one names someone else. ``kind`` is ``patient_id`` (spinecare's
    identifier ``urn:spinecare:patient``, or the id of a ``Patient/<id>`` reference that no
    resource in the file resolves), ``birth_date`` (as written: YYYY, YYYY-MM or YYYY-MM-DD),
    ``name`` (the names given, any of which may match) or ``unchecked`` (a patient identified in
    a way spinecare cannot compare, e.g. another system's identifier alone)."""

    where: str  # "item 1 entry 2", "line 3"
    field: str  # the field it was read from: "Patient.identifier", "patient_id", ...
    kind: str
    values: tuple[str, ...]


@dataclass(slots=True)
class DxaImport:
    """DXA results read from a file: one measurement per site, day and device; and what was
    left out, each with its reason (never silently); and who the file says they are about."""

    measurements: list[BmdData] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    subjects: list[SubjectClaim] = field(default_factory=list)


def dxa_from_fhir(text: str | bytes, *, zone: tzinfo | None = None) -> DxaImport:
    """DXA results from a FHIR R4B Bundle, a single Observation or a JSON list of them.

    ``zone`` is the clinic's: a measurement's instant (``2026-11-29T23:30:00-10:00``) is stored
    as the clinic's day of that instant, the day every date check counts in. Without one, the
    date as written in the file is taken. Every Patient in the file and the subject of every
    Observation come back as ``subjects`` (the import compares them with its patient)."""
    from fhir.resources.R4B.observation import Observation
    from fhir.resources.R4B.patient import Patient

    data = load_json(text, "FHIR Observations")
    items = data if isinstance(data, list) else [data]
    observations: list[tuple[str, Any]] = []
    patients: list[tuple[str, str | None, Any]] = []  # where, fullUrl, Patient
    skipped: list[str] = []
    for i, item in enumerate(items):
        where = f"item {i + 1}"
        kind = item.get("resourceType") if isinstance(item, dict) else None
        if kind == "Bundle":
            entries = item.get("entry")
            for n, e in enumerate(entries if isinstance(entries, list) else ()):
                raw = e.get("resource") if isinstance(e, dict) else None
                if isinstance(raw, dict) and raw.get("resourceType") == "Observation":
                    _check_json_kinds(raw, f"{where} entry {n + 1}")
            bundle = parse_bundle(item)
            for n, e in enumerate(bundle.entry or ()):
                res = e.resource
                kind_of = None if res is None else res.get_resource_type()
                if kind_of == "Observation":
                    observations.append((f"{where} entry {n + 1}", res))
                elif kind_of == "Patient":
                    patients.append((f"{where} entry {n + 1}", e.fullUrl, res))
        elif kind == "Observation":
            _check_json_kinds(item, where)
            observations.append((where, validated(Observation, item, f"Observation ({where})")))
        else:
            if kind == "Patient":  # read for who it is; still not a result
                patients.append((where, None, validated(Patient, item, f"Patient ({where})")))
            skipped.append(f"{where}: a {kind or 'non-FHIR object'}, not an Observation")
    result = dxa_from_observations([obs for _, obs in observations], zone=zone)
    result.skipped[:0] = skipped
    result.subjects = _subjects(patients, observations)
    return result


def _subjects(
    patients: list[tuple[str, str | None, Any]], observations: list[tuple[str, Any]]
) -> list[SubjectClaim]:
    """Every Patient of the file as claims, then each Observation's subject: a reference that
    a Patient of the file (or one contained in the Observation) resolves is that Patient's
    claims; anything else the subject says is a claim of its own."""
    claims: list[SubjectClaim] = []
    known: set[str] = set()
    for where, url, p in patients:
        claims += _patient_claims(p, where)
        if url:
            known.add(url)
        if p.id:
            known.add(f"Patient/{p.id}")
    for where, obs in observations:
        contained = {
            f"#{r.id}" for r in obs.contained or () if r.id and r.get_resource_type() == "Patient"
        }
        for r in obs.contained or ():
            if r.id and r.get_resource_type() == "Patient":
                claims += _patient_claims(r, f"{where} contained #{r.id}")
        claims += _subject_claims(obs.subject, where, known | contained)
    return claims


def _patient_claims(p: Any, where: str) -> list[SubjectClaim]:
    out: list[SubjectClaim] = []
    ids = tuple(str(i.value) for i in p.identifier or () if i.system == SC_PATIENT and i.value)
    if ids:
        out.append(SubjectClaim(where, "Patient.identifier", "patient_id", ids))
    if p.birthDate is not None:
        born = p.birthDate.isoformat() if isinstance(p.birthDate, date) else str(p.birthDate)
        out.append(SubjectClaim(where, "Patient.birthDate", "birth_date", (born,)))
    names = tuple(n for n in (_human_name(h) for h in p.name or ()) if n)
    if names:
        out.append(SubjectClaim(where, "Patient.name", "name", names))
    if not out and p.identifier:
        shown = tuple(f"{i.system or '(no system)'}|{i.value or ''}" for i in p.identifier)
        out.append(SubjectClaim(where, "Patient.identifier", "unchecked", shown))
    return out


def _human_name(h: Any) -> str:
    if h.text:
        return str(h.text).strip()
    return " ".join(str(part) for part in (*(h.given or ()), h.family) if part).strip()


def _subject_claims(subject: Any, where: str, known: set[str]) -> list[SubjectClaim]:
    if subject is None:
        return []
    out: list[SubjectClaim] = []
    ref, ident, display = subject.reference, subject.identifier, subject.display
    resolved = bool(ref) and ref in known
    if ident is not None and ident.system == SC_PATIENT and ident.value:
        out.append(SubjectClaim(where, "Observation.subject.identifier", "patient_id",
                                (str(ident.value),)))  # fmt: skip
    if display and str(display).strip():
        out.append(SubjectClaim(where, "Observation.subject.display", "name", (str(display),)))
    if not resolved and not out and (ref or ident is not None):
        shown = ref or f"identifier {ident.system or '(no system)'}|{ident.value or ''}"
        out.append(SubjectClaim(where, "Observation.subject", "unchecked", (str(shown),)))
    return out


def _check_json_kinds(obs: Mapping[str, Any], where: str) -> None:
    """Refuse a value of the wrong JSON kind where fhir.resources would convert it: FHIR JSON
    writes a dateTime as a string and a decimal as a number, but the library reads the integer
    ``1700000000`` as a Unix time (stored as 2023-11-14) and ``20260302`` as 1970-08-23, the
    string ``"0.9"`` as a decimal."""

    def refuse(name: str, kind: str, value: Any) -> InputError:
        return InputError("file", f"{where}: {name} must be a JSON {kind}, not {_json_kind(value)}")

    if "effectiveDateTime" in obs and not isinstance(obs["effectiveDateTime"], str):
        raise refuse("effectiveDateTime", "string (a FHIR dateTime)", obs["effectiveDateTime"])
    period = obs.get("effectivePeriod")
    if isinstance(period, dict):
        for end in ("start", "end"):
            if end in period and not isinstance(period[end], str):
                raise refuse(f"effectivePeriod.{end}", "string (a FHIR dateTime)", period[end])
    quantity = obs.get("valueQuantity")
    if isinstance(quantity, dict) and "value" in quantity:
        value = quantity["value"]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise refuse("valueQuantity.value", "number", value)
    extensions = obs.get("extension")
    for ext in extensions if isinstance(extensions, list) else ():
        if isinstance(ext, dict) and not isinstance(ext.get("valueBoolean", False), bool):
            raise refuse("extension valueBoolean", "boolean", ext["valueBoolean"])


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _dxa_kind(res: Any) -> tuple[str, BmdSite] | None:
    codes = _codes(res.code)
    local = codes.get(SC_CODE, "")
    if local.startswith("dxa-"):
        for q in DXA_QUANTITIES:
            prefix = f"dxa-{q}-"
            if local.startswith(prefix):
                try:
                    return q, BmdSite(local[len(prefix) :])
                except ValueError:
                    return None
    loinc = codes.get(LOINC)
    return LOINC_DXA.get(loinc) if loinc else None


def _bmd_value(res: Any) -> Decimal:
    q = res.valueQuantity
    unit = (q.code or q.unit or "").replace("²", "2").replace(" ", "")
    value = Decimal(str(q.value))
    if unit == "g/cm2":
        return value
    if unit == "mg/cm2":
        return value / 1000
    raise InputError("file", f"BMD in {q.code or q.unit!r}; expected g/cm2 (UCUM)")


def _day_of(when: date, zone: tzinfo | None) -> date:
    """The clinic's day of a FHIR date or dateTime (the date as written without ``zone``, or
    for a dateTime without an offset)."""
    if isinstance(when, datetime):
        if zone is not None and when.tzinfo is not None:
            return when.astimezone(zone).date()
        return when.date()
    return when


def dxa_from_observations(
    observations: Iterable[Any], *, keep_ids: bool = False, zone: tzinfo | None = None
) -> DxaImport:
    """Group DXA Observations into one measurement per site, day and device."""
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    skipped: list[str] = []
    for res in observations:
        label = f"Observation {res.id or _codes(res.code) or '(no code)'}"
        if res.code is None:
            skipped.append(f"{label}: no code, so not a result spinecare can tell")
            continue
        kind = _dxa_kind(res)
        if kind is None:
            skipped.append(f"{label}: not a DXA result spinecare knows")
            continue
        if res.status not in FINAL_STATUSES:
            skipped.append(f"{label}: status {res.status}, not a final result")
            continue
        quantity, site = kind
        when = res.effectiveDateTime or (res.effectivePeriod.start if res.effectivePeriod else None)
        if when is None:
            skipped.append(f"{label}: no date")
            continue
        if res.valueQuantity is None or res.valueQuantity.value is None:
            skipped.append(f"{label}: no value")
            continue
        device = res.device.display if res.device is not None else None
        row_id = _ident(res, "bmd") if keep_ids else None
        day = _day_of(when, zone)
        key = (row_id,) if row_id is not None else (site, day, device)
        g = groups.setdefault(key, {"site": site, "measured_on": day,
                                    "device": device, "id": row_id})  # fmt: skip
        value = _bmd_value(res) if quantity == "bmd" else Decimal(str(res.valueQuantity.value))
        if not value.is_finite():
            raise InputError("file", f"{label}: the value is not a number", str(value))
        name = {"bmd": "bmd_g_cm2", "t-score": "t_score", "z-score": "z_score"}[quantity]
        if name in g and g[name] != value:
            raise InputError(
                "file", f"two different {QUANTITY_TEXT[quantity]}s for {site.value} on {when}"
            )
        g[name] = value
        manufacturer = _ext(res, EXT_MANUFACTURER)
        if manufacturer is not None:
            g["manufacturer"] = manufacturer.valueString
        valid = _ext(res, EXT_BMD_VALID)
        if valid is not None:
            if valid.valueBoolean is None:  # bool(None) stored the result as invalid
                raise InputError("file", f"{label}: the bmd-valid extension has no valueBoolean")
            g["valid"] = valid.valueBoolean
    try:
        measurements = [BmdData(**g) for g in groups.values()]
    except ValidationError as exc:
        raise InputError("file", describe_validation_error(exc)) from None
    measurements.sort(key=lambda b: (b.id or 0, b.measured_on, b.site.value))
    return DxaImport(measurements, skipped)
