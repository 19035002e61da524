"""The REST API under ``/api/v1``: per-entity Create/Update/Public schemas, roles per route.

The same browser session as the pages (signed cookie) and the same CSRF token for changes
(``X-CSRF-Token``). Every route calls a service; responses are the services' ``*Public``
schemas, never table rows.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from spinecare.clinical.contraindications import ScreeningResult
from spinecare.clinical.findings import Finding
from spinecare.clinical.orthosis import FollowUpVisit
from spinecare.clinical.osteoporosis_followup import DrugTherapy, HeightRecord, RiskFactorAnswer
from spinecare.services import courses as course_svc
from spinecare.services import findings as findings_svc
from spinecare.services import invoices as invoice_svc
from spinecare.services import orthosis as ortho_svc
from spinecare.services import outcomes as outcome_svc
from spinecare.services import patients as patient_svc
from spinecare.services import schedule as schedule_svc
from spinecare.services import screening as screening_svc
from spinecare.services import sessions as session_svc
from spinecare.services import users as user_svc
from spinecare.services.audit import AuditEntryPublic, audit_log
from spinecare.services.courses import CoursePlan, CoursePublic, SessionPublic
from spinecare.services.errors import NotFoundError
from spinecare.services.findings import BmdCreate, BmdPublic, FindingPublic
from spinecare.services.invoices import InvoicePublic
from spinecare.services.outcomes import CourseOutcomes, NrsRecord, OdiRecord, OutcomePublic
from spinecare.services.patients import PatientCreate, PatientPublic, PatientUpdate
from spinecare.services.schedule import NoShowCreate, NoShowPublic, SessionReschedule
from spinecare.services.search import search_patients
from spinecare.services.today import Appointment, appointments
from spinecare.services.users import UserCreate, UserPublic
from spinecare.settings import clinic_today
from spinecare.store.enums import Role
from spinecare.vocab import Region
from spinecare.web.deps import CtxDep, CurrentUser, DbDep, csrf_protect
from spinecare.web.json_kinds import check_json_kinds
from spinecare.web.live import LiveEntry, severities
from spinecare.web.roles import ADMIN, BILL, DECIDE, READ, WRITE
from spinecare.web.sessions import (
    PauseRequest,
    SessionStart,
    record_control,
    start_course_session,
)

router = APIRouter(dependencies=[Depends(csrf_protect), Depends(check_json_kinds)])

# Database ids are 32-bit on every backend the store supports.
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


class Me(BaseModel):
    id: int
    username: str
    role: Role


class FractureHistory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    taken_on: date


class ScreenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    region: Region


class InvoiceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patient_id: int = Field(ge=1, le=2**31 - 1)
    course_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    session_ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] | None = Field(
        default=None, max_length=40
    )
    lang: Literal["de", "en"] = "de"


class LiveMessage(BaseModel):
    """A line of the monitor's messages: ``fault:KIND``, ``emg:STATE`` or ``clamp:STAGE``."""

    severity: Literal["error", "warning", "info"]
    what: str


class LiveStatus(BaseModel):
    """A running (or just finished) session on this server."""

    session_id: int
    patient_id: int
    running: bool
    paused: bool
    seq: int
    phase: str | None
    measured_n: float | None
    target_n: float | None
    time_left_s: float | None
    guarding_events: int | None
    ended: bool
    end_reason: str | None
    started_by: str
    started_at: datetime
    error: str | None
    stop_pressed: bool | None = Field(
        description="the patient's hand switch, as the table reports it"
    )
    faults: list[str] = Field(default_factory=list, description="latched faults, in order")
    messages: list[LiveMessage] = Field(default_factory=list)
    warnings: list[str] = Field(
        default_factory=list,
        description="said at the start, e.g. a session run days before its booked day",
    )


class ApiSession(SessionPublic):
    """A session as the API shows it: without ``telemetry_dir``, a directory on the server
    (where it keeps its files is no client's business; the history page and the telemetry
    routes read it there)."""

    telemetry_dir: SkipJsonSchema[str | None] = Field(default=None, exclude=True)


class ApiCourse(CoursePublic):
    # Narrowed for the output only (the API re-reads the service's course into this model), so
    # list's invariance does not matter here.
    sessions: list[ApiSession]  # type: ignore[assignment]


class ApiNoShow(NoShowPublic):
    session: ApiSession
    replacement: ApiSession | None


def live_status(e: LiveEntry) -> LiveStatus:
    f = e.latest()
    v = f.view if f is not None else None
    return LiveStatus(
        session_id=e.session_id,
        patient_id=e.patient_id,
        running=e.running,
        paused=e.paused,
        seq=e.seq,
        phase=v.phase if v else None,
        measured_n=v.measured_n if v else None,
        target_n=v.target_n if v else None,
        time_left_s=v.time_left_s if v else None,
        guarding_events=v.guarding_events if v else None,
        ended=bool(v and v.ended) or not e.running,
        end_reason=((v.end_reason or None) if v else None) or e.end_reason,
        started_by=e.started_by,
        started_at=e.started_at,
        error=e.error,
        stop_pressed=v.stop_pressed if v else None,
        faults=list(v.faults) if v else [],
        messages=[LiveMessage(severity=sev, what=w) for sev, w in severities(v)] if v else [],
        warnings=list(getattr(e.live, "warnings", [])),
    )


# -- who am I -------------------------------------------------------------------------------
@router.get("/me", response_model=Me, tags=["users"])
def me(user: CurrentUser) -> Me:
    return Me(id=user.id, username=user.username, role=user.role)


# -- patients -------------------------------------------------------------------------------
@router.get("/patients", response_model=list[PatientPublic], tags=["patients"], dependencies=[READ])
def patients_list(
    db: DbDep, user: CurrentUser, q: Annotated[str | None, Query(max_length=200)] = None
) -> list[PatientPublic]:
    return search_patients(db, user, q)


@router.post(
    "/patients",
    response_model=PatientPublic,
    status_code=201,
    tags=["patients"],
    dependencies=[WRITE],
)
def patients_create(db: DbDep, user: CurrentUser, data: PatientCreate) -> PatientPublic:
    out = patient_svc.add_patient(db, user, data)
    db.commit()
    return out


@router.get(
    "/patients/{patient_id}", response_model=PatientPublic, tags=["patients"], dependencies=[READ]
)
def patients_get(db: DbDep, user: CurrentUser, patient_id: Id) -> PatientPublic:
    return patient_svc.get_patient(db, user, patient_id)


@router.patch(
    "/patients/{patient_id}", response_model=PatientPublic, tags=["patients"], dependencies=[WRITE]
)
def patients_edit(
    db: DbDep, user: CurrentUser, patient_id: Id, changes: PatientUpdate
) -> PatientPublic:
    out = patient_svc.edit_patient(db, user, patient_id, changes)
    db.commit()
    return out


@router.get(
    "/patients/{patient_id}/findings",
    response_model=list[FindingPublic],
    tags=["screening"],
    dependencies=[READ],
)
def findings_list(db: DbDep, user: CurrentUser, patient_id: Id) -> list[FindingPublic]:
    return findings_svc.list_findings(db, user, patient_id, latest_only=True)


@router.post(
    "/patients/{patient_id}/findings",
    response_model=FindingPublic,
    status_code=201,
    tags=["screening"],
    dependencies=[WRITE],
)
def findings_add(db: DbDep, user: CurrentUser, patient_id: Id, finding: Finding) -> FindingPublic:
    out = findings_svc.record_finding(db, user, patient_id, finding)
    db.commit()
    return out


@router.post(
    "/patients/{patient_id}/fracture-history",
    status_code=204,
    tags=["screening"],
    dependencies=[WRITE],
)
def fracture_history(db: DbDep, user: CurrentUser, patient_id: Id, data: FractureHistory) -> None:
    findings_svc.record_fracture_history(db, user, patient_id, data.taken_on)
    db.commit()


@router.post(
    "/patients/{patient_id}/bmd",
    response_model=BmdPublic,
    status_code=201,
    tags=["screening"],
    dependencies=[WRITE],
)
def bmd_add(db: DbDep, user: CurrentUser, patient_id: Id, data: BmdCreate) -> BmdPublic:
    out = findings_svc.record_bmd(db, user, patient_id, data)
    db.commit()
    return out


@router.get(
    "/patients/{patient_id}/screening",
    response_model=ScreeningResult,
    tags=["screening"],
    dependencies=[READ],
)
def screening_preview(
    ctx: CtxDep, db: DbDep, user: CurrentUser, patient_id: Id, region: Region = Region.LUMBAR
) -> ScreeningResult:
    return screening_svc.evaluate_screening(
        db, user, patient_id, region, settings=ctx.settings.clinic.screening
    )


@router.post(
    "/patients/{patient_id}/screening",
    response_model=ScreeningResult,
    tags=["screening"],
    dependencies=[DECIDE],
)
def screening_record(
    ctx: CtxDep, db: DbDep, user: CurrentUser, patient_id: Id, data: ScreenRequest
) -> ScreeningResult:
    out = screening_svc.screen_patient(
        db, user, patient_id, data.region, settings=ctx.settings.clinic.screening
    )
    db.commit()
    return out


# -- courses --------------------------------------------------------------------------------
@router.get(
    "/patients/{patient_id}/courses",
    response_model=list[ApiCourse],
    tags=["courses"],
    dependencies=[READ],
)
def courses_of_patient(db: DbDep, user: CurrentUser, patient_id: Id) -> list[CoursePublic]:
    return course_svc.list_courses(db, user, patient_id)


@router.post(
    "/courses",
    response_model=ApiCourse,
    status_code=201,
    tags=["courses"],
    dependencies=[DECIDE],
)
def courses_plan(ctx: CtxDep, db: DbDep, user: CurrentUser, plan: CoursePlan) -> CoursePublic:
    out = course_svc.plan_course(db, user, plan, clinic=ctx.settings.clinic)
    db.commit()
    return out


@router.get("/courses/{course_id}", response_model=ApiCourse, tags=["courses"], dependencies=[READ])
def courses_get(db: DbDep, user: CurrentUser, course_id: Id) -> CoursePublic:
    return course_svc.get_course(db, user, course_id)


@router.get(
    "/courses/{course_id}/outcomes",
    response_model=CourseOutcomes,
    tags=["outcomes"],
    dependencies=[READ],
)
def courses_outcomes(ctx: CtxDep, db: DbDep, user: CurrentUser, course_id: Id) -> CourseOutcomes:
    return outcome_svc.course_outcomes(db, user, course_id, clinic=ctx.settings.clinic)


# -- sessions -------------------------------------------------------------------------------
@router.get(
    "/sessions/{session_id}", response_model=ApiSession, tags=["sessions"], dependencies=[READ]
)
def sessions_get(db: DbDep, user: CurrentUser, session_id: Id) -> SessionPublic:
    return session_svc.get_session(db, user, session_id)


@router.post(
    "/sessions/{session_id}/reschedule",
    response_model=ApiSession,
    tags=["schedule"],
    dependencies=[WRITE],
)
def sessions_reschedule(
    ctx: CtxDep, db: DbDep, user: CurrentUser, session_id: Id, data: SessionReschedule
) -> SessionPublic:
    out = schedule_svc.reschedule_session(db, user, session_id, data, clinic=ctx.settings.clinic)
    db.commit()
    return out


@router.post(
    "/sessions/{session_id}/no-show",
    response_model=ApiNoShow,
    status_code=201,
    tags=["schedule"],
    dependencies=[WRITE],
)
def sessions_no_show(
    ctx: CtxDep, db: DbDep, user: CurrentUser, session_id: Id, data: NoShowCreate
) -> NoShowPublic:
    out = schedule_svc.record_no_show(db, user, session_id, data, clinic=ctx.settings.clinic)
    db.commit()
    return out


@router.post(
    "/sessions/{session_id}/cancel",
    response_model=ApiSession,
    tags=["schedule"],
    dependencies=[WRITE],
)
def sessions_cancel(db: DbDep, user: CurrentUser, session_id: Id) -> SessionPublic:
    out = session_svc.cancel_session(db, user, session_id)
    db.commit()
    return out


@router.get("/today", response_model=list[Appointment], tags=["schedule"], dependencies=[READ])
def today_list(
    ctx: CtxDep,
    db: DbDep,
    user: CurrentUser,
    day: Annotated[date | None, Query(ge=date(2000, 1, 1), le=date(2199, 12, 31))] = None,
    days: Annotated[int, Query(ge=1, le=31)] = 1,
) -> list[Appointment]:
    """The appointments of ``days`` clinic days from ``day`` (default: today, clinic-local)."""
    zone = ctx.settings.clinic.zone
    first = day or clinic_today(zone)
    return appointments(db, user, first, days, zone)


def _entry(ctx: CtxDep, session_id: int) -> LiveEntry:
    entry = ctx.live.get(session_id)
    if entry is None:
        raise NotFoundError("running session", session_id)
    return entry


@router.post(
    "/sessions/{session_id}/start",
    response_model=LiveStatus,
    status_code=201,
    tags=["sessions"],
    dependencies=[WRITE],
)
def sessions_start(
    ctx: CtxDep, user: CurrentUser, session_id: Id, data: SessionStart
) -> LiveStatus:
    return live_status(start_course_session(ctx, user, session_id, data))


@router.get(
    "/sessions/{session_id}/live", response_model=LiveStatus, tags=["sessions"], dependencies=[READ]
)
def sessions_live(ctx: CtxDep, session_id: Id) -> LiveStatus:
    return live_status(_entry(ctx, session_id))


@router.post(
    "/sessions/{session_id}/stop",
    response_model=LiveStatus,
    tags=["sessions"],
    dependencies=[WRITE],
)
def sessions_stop(ctx: CtxDep, db: DbDep, user: CurrentUser, session_id: Id) -> LiveStatus:
    entry = _entry(ctx, session_id)
    reason = f"stop on the monitor ({user.username})"
    entry.stop(reason)  # the table first, the record after
    record_control(db, user, session_id, "stop", reason)
    return live_status(entry)


@router.post(
    "/sessions/{session_id}/pause",
    response_model=LiveStatus,
    tags=["sessions"],
    dependencies=[WRITE],
)
def sessions_pause(
    ctx: CtxDep, db: DbDep, user: CurrentUser, session_id: Id, data: PauseRequest
) -> LiveStatus:
    entry = _entry(ctx, session_id)
    entry.pause(data.paused)
    record_control(db, user, session_id, "pause" if data.paused else "resume")
    return live_status(entry)


@router.post(
    "/sessions/{session_id}/nrs",
    response_model=list[OutcomePublic],
    status_code=201,
    tags=["outcomes"],
    dependencies=[WRITE],
)
def sessions_nrs(
    db: DbDep, user: CurrentUser, session_id: Id, data: NrsRecord
) -> list[OutcomePublic]:
    out = outcome_svc.record_nrs(db, user, session_id, data)
    db.commit()
    return out


@router.post(
    "/sessions/{session_id}/odi",
    response_model=OutcomePublic,
    status_code=201,
    tags=["outcomes"],
    dependencies=[WRITE],
)
def sessions_odi(db: DbDep, user: CurrentUser, session_id: Id, data: OdiRecord) -> OutcomePublic:
    out, _ = outcome_svc.record_odi(db, user, data, session_id=session_id)
    db.commit()
    return out


# -- the orthosis pathway and the osteoporosis follow-up ---------------------------------------
@router.get(
    "/patients/{patient_id}/orthoses",
    response_model=list[ortho_svc.PrescriptionPublic],
    tags=["orthosis"],
    dependencies=[READ],
)
def orthoses_list(db: DbDep, user: CurrentUser, patient_id: Id) -> Any:
    return ortho_svc.list_prescriptions(db, user, patient_id)


@router.post(
    "/patients/{patient_id}/orthoses",
    response_model=ortho_svc.PrescriptionPublic,
    status_code=201,
    tags=["orthosis"],
    dependencies=[DECIDE],
)
def orthoses_prescribe(
    db: DbDep, user: CurrentUser, patient_id: Id, data: ortho_svc.PrescriptionCreate
) -> Any:
    out = ortho_svc.prescribe_orthosis(db, user, patient_id, data)
    db.commit()
    return out


@router.get(
    "/orthoses/{prescription_id}",
    response_model=ortho_svc.OrthosisProgress,
    tags=["orthosis"],
    dependencies=[READ],
)
def orthoses_progress(db: DbDep, user: CurrentUser, prescription_id: Id) -> Any:
    """The prescription, its follow-ups, the change from baseline and the trials beside it."""
    return ortho_svc.orthosis_progress(db, user, prescription_id)


@router.post(
    "/orthoses/{prescription_id}/fit",
    response_model=ortho_svc.PrescriptionPublic,
    tags=["orthosis"],
    dependencies=[WRITE],
)
def orthoses_fit(db: DbDep, user: CurrentUser, prescription_id: Id, data: ortho_svc.FitData) -> Any:
    out = ortho_svc.fit_orthosis(db, user, prescription_id, data)
    db.commit()
    return out


@router.post(
    "/orthoses/{prescription_id}/followups/{visit}",
    response_model=ortho_svc.FollowUpPublic,
    tags=["orthosis"],
    dependencies=[WRITE],
)
def orthoses_followup(
    db: DbDep,
    user: CurrentUser,
    prescription_id: Id,
    visit: FollowUpVisit,
    data: ortho_svc.FollowUpRecord,
) -> Any:
    out = ortho_svc.record_followup(db, user, prescription_id, visit, data)
    db.commit()
    return out


@router.get(
    "/patients/{patient_id}/osteoporosis",
    response_model=ortho_svc.OsteoporosisSummary,
    tags=["orthosis"],
    dependencies=[READ],
)
def osteoporosis(db: DbDep, user: CurrentUser, patient_id: Id) -> Any:
    return ortho_svc.osteoporosis_summary(db, user, patient_id)


@router.post(
    "/patients/{patient_id}/osteoporosis/risk-factors",
    response_model=ortho_svc.RiskFactorPublic,
    status_code=201,
    tags=["orthosis"],
    dependencies=[WRITE],
)
def osteoporosis_risk(db: DbDep, user: CurrentUser, patient_id: Id, data: RiskFactorAnswer) -> Any:
    out = ortho_svc.record_risk_factor(db, user, patient_id, data)
    db.commit()
    return out


@router.post(
    "/patients/{patient_id}/osteoporosis/drug-therapies",
    response_model=ortho_svc.DrugTherapyPublic,
    status_code=201,
    tags=["orthosis"],
    dependencies=[WRITE],
)
def osteoporosis_drug(db: DbDep, user: CurrentUser, patient_id: Id, data: DrugTherapy) -> Any:
    out = ortho_svc.record_drug_therapy(db, user, patient_id, data)
    db.commit()
    return out


@router.post(
    "/patients/{patient_id}/osteoporosis/heights",
    response_model=ortho_svc.HeightPublic,
    status_code=201,
    tags=["orthosis"],
    dependencies=[WRITE],
)
def osteoporosis_height(db: DbDep, user: CurrentUser, patient_id: Id, data: HeightRecord) -> Any:
    out = ortho_svc.record_height(db, user, patient_id, data)
    db.commit()
    return out


# -- invoices -------------------------------------------------------------------------------
@router.get("/invoices", response_model=list[InvoicePublic], tags=["invoices"], dependencies=[BILL])
def invoices_list(
    db: DbDep,
    user: CurrentUser,
    patient_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> list[InvoicePublic]:
    return invoice_svc.list_invoices(db, user, patient_id=patient_id)


@router.post(
    "/invoices",
    response_model=InvoicePublic,
    status_code=201,
    tags=["invoices"],
    dependencies=[BILL],
)
def invoices_create(db: DbDep, user: CurrentUser, data: InvoiceCreate) -> InvoicePublic:
    out = invoice_svc.create_invoice(
        db,
        user,
        data.patient_id,
        course_id=data.course_id,
        session_ids=data.session_ids,
        lang=data.lang,
    )
    db.commit()
    return out


@router.get(
    "/invoices/{invoice_id}", response_model=InvoicePublic, tags=["invoices"], dependencies=[BILL]
)
def invoices_get(db: DbDep, user: CurrentUser, invoice_id: Id) -> InvoicePublic:
    return invoice_svc.get_invoice(db, user, invoice_id)


@router.post(
    "/invoices/{invoice_id}/{action}",
    response_model=InvoicePublic,
    tags=["invoices"],
    dependencies=[BILL],
)
def invoices_action(
    db: DbDep,
    user: CurrentUser,
    invoice_id: Id,
    action: Literal["issue", "pay", "cancel"],
) -> InvoicePublic:
    fn: Any = {
        "issue": invoice_svc.issue_invoice,
        "pay": invoice_svc.mark_paid,
        "cancel": invoice_svc.cancel_invoice,
    }[action]
    out: InvoicePublic = fn(db, user, invoice_id)
    db.commit()
    return out


# -- users and audit ------------------------------------------------------------------------
@router.get("/users", response_model=list[UserPublic], tags=["users"], dependencies=[ADMIN])
def users_list(db: DbDep, user: CurrentUser) -> list[UserPublic]:
    return user_svc.list_users(db, user)


@router.post(
    "/users", response_model=UserPublic, status_code=201, tags=["users"], dependencies=[ADMIN]
)
def users_create(db: DbDep, user: CurrentUser, data: UserCreate) -> UserPublic:
    out = user_svc.create_user(db, user, data)
    db.commit()
    return out


@router.get("/audit", response_model=list[AuditEntryPublic], tags=["audit"], dependencies=[ADMIN])
def audit(
    db: DbDep,
    user: CurrentUser,
    entity: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AuditEntryPublic]:
    return audit_log(db, user, entity=entity, limit=limit)
