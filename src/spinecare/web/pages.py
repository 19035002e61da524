"""The HTML pages: German first, plain forms with a CSRF field, htmx where it saves a reload.

Each handler reads or changes data through one service call (or a few) and renders a template;
form strings are turned into the services' schemas here, so a bad value comes back as the
service's own message.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import SecretStr, ValidationError
from sse_starlette.sse import EventSourceResponse
from starlette.background import BackgroundTask

from spinecare.clinical.contraindications import RULES
from spinecare.clinical.findings import CI_CODES, Finding
from spinecare.clinical.vocab import BmdSite, Menopause, Sex
from spinecare.errors import InputError, describe_validation_error
from spinecare.quantities import DEVICE_MAX_FORCE_N
from spinecare.reports.labels import end_reason as end_reason_text
from spinecare.services import courses as course_svc
from spinecare.services import findings as findings_svc
from spinecare.services import invoices as invoice_svc
from spinecare.services import outcomes as outcome_svc
from spinecare.services import patients as patient_svc
from spinecare.services import schedule as schedule_svc
from spinecare.services import screening as screening_svc
from spinecare.services import sessions as session_svc
from spinecare.services import users as user_svc
from spinecare.services._common import as_utc
from spinecare.services.audit import audit_log, changed_fields
from spinecare.services.auth import (
    CLINICAL_WRITERS,
    PHYSICIAN_ROLES,
    Actor,
)
from spinecare.services.courses import CoursePlan
from spinecare.services.errors import NotFoundError
from spinecare.services.findings import BmdCreate
from spinecare.services.outcomes import NrsRecord, OdiRecord, parse_odi
from spinecare.services.patients import PatientCreate, PatientUpdate, day_field
from spinecare.services.schedule import NoShowCreate, SessionReschedule
from spinecare.services.search import search_patients
from spinecare.services.today import appointments
from spinecare.services.users import UserCreate
from spinecare.settings import clinic_today
from spinecare.store.enums import Insurance, Role, SessionStatus
from spinecare.vocab import SEGMENTS, Region
from spinecare.web import accounts, forms
from spinecare.web import patient_form as pform
from spinecare.web.curve import curve_data
from spinecare.web.deps import (
    LANG_KEY,
    CtxDep,
    CurrentUser,
    DbDep,
    OptionalUser,
    csrf_protect,
    lang_of,
)
from spinecare.web.device import describe as describe_table
from spinecare.web.i18n import LANGS, MISSING_DE
from spinecare.web.live import FRAME_FIELDS, LiveEntry
from spinecare.web.orthosis import patient_orthosis
from spinecare.web.render import flash, page, redirect
from spinecare.web.roles import ADMIN, BILL, BILLING_ROLES, DECIDE, READ, WRITE
from spinecare.web.sessions import SessionStart, record_control, start_course_session

END_REASON = FRAME_FIELDS.index("end_reason")

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)

Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
# The SSE handler is woken by the relay thread when a tick arrives; it looks anyway after this
# long (a session that ends without a last tick, a relay that died).
WAIT_S = 1.0
# A monitor that connects fresh is sent the last 30 s (the chart's window) at once.
CATCH_UP_TICKS = 1500
# History replay: every 5th telemetry row (10 Hz) is plenty for a 30-minute chart.
REPLAY_STEP = 5
# The screening form's free text beside an answer (longer is refused, never cut).
FINDING_DETAIL_MAX = 500


def page_user(user: CurrentUser) -> Actor:
    """A signed-in user (with no one-time password left to change: ``current_user``)."""
    return user


def _form_date(value: str, field: str) -> date | None:
    return day_field(value, field)


def _safe_next(url: str | None) -> str:
    return url if url and url.startswith("/") and not url.startswith("//") else "/"


# -- login, logout, language, password ----------------------------------------------------
@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, user: OptionalUser, next: str = "/") -> Response:
    if user is not None:
        return redirect(_safe_next(next))
    return page(request, "login.html", None, next=_safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    ctx: CtxDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    lang = request.session.get(LANG_KEY)
    done = accounts.login(
        ctx.store, request.session, username, password, lifetime_s=ctx.web.session_max_age_s
    )
    if isinstance(lang, str):
        request.session[LANG_KEY] = lang
    if done is None:
        flash(request, "login_failed", "error")
        return page(request, "login.html", None, status_code=401, next=_safe_next(next))
    if done[1]:  # a one-time password: change it first
        return redirect("/account")
    return redirect(_safe_next(next))


@router.post("/logout")
def logout(request: Request, ctx: CtxDep) -> Response:
    lang = request.session.get(LANG_KEY)
    accounts.logout(ctx.store, request.session)
    if isinstance(lang, str):
        request.session[LANG_KEY] = lang
    return redirect("/login")


@router.post("/lang")
def set_lang(
    request: Request,
    lang: Annotated[str, Form(max_length=2)],
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    if lang in LANGS:
        request.session[LANG_KEY] = lang
    return redirect(_safe_next(next))


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, user: CurrentUser) -> Response:
    must = bool(getattr(request.state, "must_change_password", False))
    return page(request, "account.html", user, must_change=must)


@router.post("/account")
def account_save(
    request: Request,
    ctx: CtxDep,
    db: DbDep,
    user: CurrentUser,
    current_password: Annotated[str, Form(max_length=1024)],
    new_password: Annotated[str, Form(max_length=1024)],
) -> Response:
    accounts.change_password(db, request.session, user, current_password, new_password)
    flash(request, "saved")
    return redirect("/")


# -- today ----------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse, dependencies=[READ])
def today(
    request: Request, ctx: CtxDep, db: DbDep, user: Annotated[Actor, Depends(page_user)]
) -> Response:
    zone = ctx.settings.clinic.zone
    day = clinic_today(zone)
    items = appointments(db, user, day, 8, zone)
    todays = [a for a in items if a.start.date() == day]
    later = [a for a in items if a.start.date() > day and a.status == SessionStatus.PLANNED][:15]
    running = {e.session_id: e for e in ctx.live.entries()}
    return page(
        request,
        "today.html",
        user,
        day=day,
        todays=todays,
        later=later,
        running=running,
        can_write=user.role in CLINICAL_WRITERS,
    )


# The Today page's running-sessions panel (htmx-ext-sse): an update a second while sessions
# run; with none running the stream ends and the browser reconnects a few seconds later.
TODAY_UPDATE_S = 1.0


@router.get("/today/stream", dependencies=[READ])
async def today_stream(request: Request, ctx: CtxDep, user: CurrentUser) -> Response:
    async def events() -> Any:
        while True:
            entries = ctx.live.entries()
            html = bytes(page(request, "running.html", user, entries=entries).body).decode()
            yield {"event": "running", "data": html.replace("\n", " ")}
            if not any(e.running for e in entries):
                return
            await asyncio.sleep(TODAY_UPDATE_S)

    return EventSourceResponse(events(), ping=15)


@router.post("/sessions/{session_id}/cancel", dependencies=[WRITE])
def session_cancel(
    request: Request,
    db: DbDep,
    user: CurrentUser,
    session_id: Id,
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    def work() -> str:
        session_svc.cancel_session(db, user, session_id)
        return "session_cancelled"

    return _schedule_change(request, db, work, next)


def _schedule_change(request: Request, db: Any, work: Any, next: str) -> Response:
    """A change to the day's plan from a row's form: done and committed with a note, or refused
    with the service's reason; either way back to the page the form was on."""
    from spinecare.web.i18n import translator

    _ = translator(lang_of(request))
    try:
        note = work()
        db.commit()
        flash(request, _(note) if isinstance(note, str) else " ".join(_(x) for x in note))
    except (InputError, ValidationError) as exc:
        db.rollback()
        text = describe_validation_error(exc) if isinstance(exc, ValidationError) else str(exc)
        flash(request, f"{_('not_done')}: {text}", "error")
    return redirect(_safe_next(next))


def _when(t: datetime, zone: Any) -> str:
    return t.astimezone(zone).strftime("%d.%m.%Y %H:%M")


@router.post("/sessions/{session_id}/reschedule", dependencies=[WRITE])
def session_reschedule(
    request: Request,
    ctx: CtxDep,
    db: DbDep,
    user: CurrentUser,
    session_id: Id,
    start: Annotated[str, Form(max_length=40)],
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    clinic = ctx.settings.clinic

    def work() -> list[str]:
        data = SessionReschedule(start=forms.moment(start, "start"))
        out = schedule_svc.reschedule_session(db, user, session_id, data, clinic=clinic)
        return ["rescheduled_to", _when(out.scheduled_start, clinic.zone)]

    return _schedule_change(request, db, work, next)


@router.post("/sessions/{session_id}/no-show", dependencies=[WRITE])
def session_no_show(
    request: Request,
    ctx: CtxDep,
    db: DbDep,
    user: CurrentUser,
    session_id: Id,
    replacement: Annotated[str, Form(max_length=20)] = "end_of_course",
    replacement_start: Annotated[str, Form(max_length=40)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    clinic = ctx.settings.clinic

    def work() -> list[str]:
        picked = replacement == "pick"
        data = NoShowCreate.model_validate(
            {
                "replacement": replacement,
                "replacement_start": forms.moment(replacement_start, "replacement_start")
                if picked
                else None,
            }
        )
        out = schedule_svc.record_no_show(db, user, session_id, data, clinic=clinic)
        if out.replacement is None:
            return ["no_show_recorded"]
        rep = out.replacement
        return ["no_show_recorded", "replacement_booked", _when(rep.scheduled_start, clinic.zone)]

    return _schedule_change(request, db, work, next)


# -- patients -------------------------------------------------------------------------------
@router.get("/patients", response_class=HTMLResponse, dependencies=[READ])
def patients(
    request: Request,
    db: DbDep,
    user: Annotated[Actor, Depends(page_user)],
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    found = search_patients(db, user, q)
    template = "patients_rows.html" if request.headers.get("hx-request") else "patients.html"
    return page(request, template, user, patients=found, q=q)


def _choices() -> dict[str, Any]:
    return {"sexes": list(Sex), "insurances": list(Insurance), "menopauses": list(Menopause)}


def _form_page(
    request: Request,
    user: Actor,
    patient: Any,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
) -> Response:
    """The form, with what was typed and each refusal beside its field (422 when refused)."""
    return page(
        request,
        "patient_form.html",
        user,
        status_code=422 if errors else 200,
        patient=patient,
        v=values,
        errors=errors or {},
        **_choices(),
    )


@router.get("/patients/new", response_class=HTMLResponse, dependencies=[WRITE])
def patient_new(request: Request, user: Annotated[Actor, Depends(page_user)]) -> Response:
    return _form_page(request, user, None, pform.blank())


@router.post("/patients/new", dependencies=[WRITE])
async def patient_create(request: Request, db: DbDep, user: CurrentUser) -> Response:
    form = await request.form()
    values = pform.typed(form)
    data, errors = pform.check_form(values, edit=False)
    errors.update(pform.kind_errors(form))
    model = pform.validated(PatientCreate, data, errors)
    if model is None:
        return _form_page(request, user, None, values, errors)
    try:
        p = patient_svc.add_patient(db, user, model)
    except (ValidationError, InputError) as exc:
        db.rollback()
        return _form_page(request, user, None, values, pform.field_errors(exc))
    db.commit()
    return redirect(f"/patients/{p.id}")


@router.get("/patients/{patient_id}/edit", response_class=HTMLResponse, dependencies=[WRITE])
def patient_edit_form(
    request: Request, db: DbDep, user: Annotated[Actor, Depends(page_user)], patient_id: Id
) -> Response:

    p = patient_svc.get_patient(db, user, patient_id)
    return _form_page(request, user, p, pform.shown(p, lang_of(request)))


@router.post("/patients/{patient_id}/edit", dependencies=[WRITE])
async def patient_edit(request: Request, db: DbDep, user: CurrentUser, patient_id: Id) -> Response:
    p = patient_svc.get_patient(db, user, patient_id)
    form = await request.form()
    values = pform.typed(form)
    data, errors = pform.check_form(values, edit=True)
    errors.update(pform.kind_errors(form))
    model = pform.validated(PatientUpdate, data, errors)
    if model is None:
        return _form_page(request, user, p, values, errors)
    try:
        patient_svc.edit_patient(db, user, patient_id, model)
    except (ValidationError, InputError) as exc:
        db.rollback()
        return _form_page(request, user, p, values, pform.field_errors(exc))
    db.commit()
    return redirect(f"/patients/{patient_id}")


def _missing_words(result: Any, lang: str) -> list[str]:
    """The findings screening still needs, as a sentence each (title: what is missing)."""
    from spinecare.web.i18n import CI_TITLES_DE

    titles = {r.code: r.title for r in RULES}
    out = []
    for m in result.missing:
        if lang == "de":
            title = CI_TITLES_DE.get(m.code, titles.get(m.code, m.code))
            reason = MISSING_DE.get(m.field.split(".")[0], m.reason)
        else:
            title, reason = titles.get(m.code, m.code), m.reason
        line = f"{title}: {reason}"
        if line not in out:
            out.append(line)
    return out


@router.get("/patients/{patient_id}", response_class=HTMLResponse, dependencies=[READ])
def patient_page(
    request: Request,
    ctx: CtxDep,
    db: DbDep,
    user: Annotated[Actor, Depends(page_user)],
    patient_id: Id,
    region: Region | None = None,
) -> Response:

    p = patient_svc.get_patient(db, user, patient_id)
    courses = course_svc.list_courses(db, user, patient_id)
    reg = region or (courses[-1].region if courses else Region.LUMBAR)
    result = screening_svc.evaluate_screening(
        db, user, patient_id, reg, settings=ctx.settings.clinic.screening
    )
    latest = {f.code: f for f in findings_svc.list_findings(db, user, patient_id, latest_only=True)}
    outcomes = {
        c.id: outcome_svc.course_outcomes(db, user, c.id, clinic=ctx.settings.clinic)
        for c in courses
    }
    invoices = (
        invoice_svc.list_invoices(db, user, patient_id=patient_id)
        if user.role in BILLING_ROLES
        else []
    )
    from spinecare.store.models import Patient

    row = db.get(Patient, patient_id)
    lang = lang_of(request)
    return page(
        request,
        "patient.html",
        user,
        ortho=patient_orthosis(db, user, patient_id, lang),
        recommend_orthosis=bool(result.orthosis and result.orthosis.recommended),
        p=p,
        address=patient_svc.postal_address(p),
        region=reg,
        result=result,
        missing=_missing_words(result, lang),
        rules=RULES,
        latest=latest,
        bmd=findings_svc.list_bmd(db, user, patient_id),
        fractures=findings_svc.list_fractures(db, user, patient_id),
        fracture_history_on=row.fracture_history_on if row else None,
        history=screening_svc.screening_history(db, user, patient_id),
        courses=courses,
        outcomes=outcomes,
        invoices=invoices,
        segments=SEGMENTS,
        bmd_sites=list(BmdSite),
        today=clinic_today(),
        can_write=user.role in CLINICAL_WRITERS,
        can_decide=user.role in PHYSICIAN_ROLES,
        can_bill=user.role in BILLING_ROLES,
    )


@router.post("/patients/{patient_id}/findings", dependencies=[WRITE])
async def findings_save(request: Request, db: DbDep, user: CurrentUser, patient_id: Id) -> Response:
    """The screening form: one yes/no/unknown answer per item; only changed answers are
    recorded (a new row each; the audit log keeps the earlier ones). "Unknown" on an item
    answered before withdraws that answer: the item counts as missing again, and screening
    says incomplete until it is answered (an item the form did not send is left as it is)."""
    form = await request.form()
    answers: list[Finding] = []
    for code in CI_CODES:
        if f"ci_{code}" not in form:
            continue
        value = forms.text(form, f"ci_{code}", 10)
        detail = forms.text(form, f"detail_{code}", FINDING_DETAIL_MAX).strip()
        if value not in ("yes", "no", "", "unknown"):
            raise InputError(f"ci_{code}", "expected yes, no or unknown", value)
        present = None if value in ("", "unknown") else value == "yes"
        answers.append(Finding(code=code, present=present, detail=detail or None))
    await asyncio.to_thread(_save_findings, db, user, patient_id, answers)
    return redirect(f"/patients/{patient_id}#screening")


def _save_findings(db: Any, user: Actor, patient_id: int, answers: list[Finding]) -> None:
    latest = {f.code: f for f in findings_svc.list_findings(db, user, patient_id, latest_only=True)}
    for f in answers:
        old = latest.get(f.code)
        if old is None and f.present is None and f.detail is None:
            continue  # never answered and still unknown: nothing to record
        if (
            old is not None
            and old.present == f.present
            and (old.detail or {}).get("detail") == f.detail
        ):
            continue  # unchanged: no new row
        findings_svc.record_finding(db, user, patient_id, f)
    db.commit()


@router.post("/patients/{patient_id}/fractures/none", dependencies=[WRITE])
def fractures_none(db: DbDep, user: CurrentUser, patient_id: Id) -> Response:
    findings_svc.record_fracture_history(db, user, patient_id, clinic_today())
    db.commit()
    return redirect(f"/patients/{patient_id}#screening")


@router.post("/patients/{patient_id}/bmd", dependencies=[WRITE])
def bmd_save(
    db: DbDep,
    user: CurrentUser,
    patient_id: Id,
    site: Annotated[str, Form(max_length=20)],
    measured_on: Annotated[str, Form(max_length=20)],
    t_score: Annotated[str, Form(max_length=10)] = "",
    bmd_g_cm2: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    data = BmdCreate.model_validate(
        {
            "site": site,
            "measured_on": _form_date(measured_on, "measured_on"),
            "t_score": forms.number(t_score, "t_score"),
            "bmd_g_cm2": forms.number(bmd_g_cm2, "bmd_g_cm2"),
        }
    )
    findings_svc.record_bmd(db, user, patient_id, data)
    db.commit()
    return redirect(f"/patients/{patient_id}#bone")


@router.post("/patients/{patient_id}/screen", dependencies=[DECIDE])
def screen_record(
    ctx: CtxDep,
    db: DbDep,
    user: CurrentUser,
    patient_id: Id,
    region: Annotated[Region, Form()],
) -> Response:
    screening_svc.screen_patient(
        db, user, patient_id, region, settings=ctx.settings.clinic.screening
    )
    db.commit()
    return redirect(f"/patients/{patient_id}?region={region.value}#screening")


@router.post("/patients/{patient_id}/courses", dependencies=[DECIDE])
def course_plan(
    ctx: CtxDep,
    db: DbDep,
    user: CurrentUser,
    patient_id: Id,
    region: Annotated[Region, Form()],
    segment: Annotated[str, Form(max_length=8)],
    sessions: Annotated[int, Form(ge=1, le=40)],
    per_week: Annotated[int, Form(ge=1, le=7)],
    start: Annotated[str, Form(max_length=20)],
    preferred_time: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    plan = CoursePlan.model_validate(
        {
            "patient_id": patient_id,
            "region": region,
            "segment": segment,
            "sessions": sessions,
            "per_week": per_week,
            "start": _form_date(start, "start"),
            "preferred_time": forms.clock(preferred_time, "preferred_time"),
        }
    )
    course = course_svc.plan_course(db, user, plan, clinic=ctx.settings.clinic)
    db.commit()
    return redirect(f"/courses/{course.id}")


# -- courses --------------------------------------------------------------------------------
@router.get("/courses/{course_id}", response_class=HTMLResponse, dependencies=[READ])
def course_page(
    request: Request,
    ctx: CtxDep,
    db: DbDep,
    user: Annotated[Actor, Depends(page_user)],
    course_id: Id,
) -> Response:
    course = course_svc.get_course(db, user, course_id)
    p = patient_svc.get_patient(db, user, course.patient_id, include_deleted=True)
    outcomes = outcome_svc.course_outcomes(db, user, course_id, clinic=ctx.settings.clinic)
    nxt = next((s for s in course.sessions if s.status == SessionStatus.PLANNED), None)
    running = {e.session_id for e in ctx.live.entries() if e.running}
    return page(
        request,
        "course.html",
        user,
        course=course,
        p=p,
        outcomes=outcomes,
        next_session=nxt,
        running=running,
        zone=ctx.settings.clinic.zone,
        now=datetime.now(UTC),
        can_write=user.role in CLINICAL_WRITERS,
        can_bill=user.role in BILLING_ROLES,
    )


@router.post("/courses/{course_id}/odi", dependencies=[WRITE])
def course_odi(
    db: DbDep, user: CurrentUser, course_id: Id, answers: Annotated[str, Form(max_length=60)]
) -> Response:
    outcome_svc.record_odi(db, user, parse_odi(answers), course_id=course_id)
    db.commit()
    return redirect(f"/courses/{course_id}#outcomes")


# -- session set-up and the live monitor ----------------------------------------------------
def _segment_picture(proto: Any, angle: float | None) -> dict[str, Any]:
    from spinecare.therapy.segments import angle_range, recommend_angle, segment_forces

    rec = proto.pull_angle_deg
    if rec is None:
        rec = recommend_angle(proto.segment, proto.region, proto.body_weight_kg, proto.table)
    lo, hi = angle_range(proto.region)
    chosen = rec if angle is None else min(max(angle, lo), hi)
    forces = segment_forces(
        proto.peak_force_n, chosen, proto.region, proto.body_weight_kg, proto.table
    )
    top = max((f.axial_n for f in forces), default=1.0) or 1.0
    return {
        "forces": forces,
        "angle": chosen,
        "recommended": rec,
        "lo": lo,
        "hi": hi,
        "top": top,
        "target": proto.segment,
        "cable_n": proto.peak_force_n,
    }


@router.get("/sessions/{session_id}/setup", response_class=HTMLResponse, dependencies=[WRITE])
def session_setup(
    request: Request,
    ctx: CtxDep,
    db: DbDep,
    user: Annotated[Actor, Depends(page_user)],
    session_id: Id,
) -> Response:

    s = session_svc.get_session(db, user, session_id)
    if ctx.live.get(session_id) is not None:
        return redirect(f"/live/{session_id}")
    if s.status != SessionStatus.PLANNED:
        return redirect(f"/sessions/{session_id}")
    proto = session_svc.planned_protocol(db, user, session_id)
    course = course_svc.get_course(db, user, s.course_id)
    p = patient_svc.get_patient(db, user, course.patient_id)
    result = screening_svc.evaluate_screening(
        db, user, p.id, course.region, settings=ctx.settings.clinic.screening
    )
    return page(
        request,
        "setup.html",
        user,
        s=s,
        proto=proto,
        course=course,
        p=p,
        result=result,
        seg=_segment_picture(proto, None),
        early=session_svc.session_days_early(
            s.scheduled_start, datetime.now(UTC), ctx.settings.clinic.zone
        ),
        simulated=ctx.table is None and ctx.settings.device_simulated,
        table_line=describe_table(ctx.table, lang_of(request)),
    )


@router.get("/sessions/{session_id}/segments", response_class=HTMLResponse, dependencies=[WRITE])
def session_segments(
    request: Request,
    db: DbDep,
    user: CurrentUser,
    session_id: Id,
    angle: Annotated[float, Query(ge=-10.0, le=45.0, allow_inf_nan=False)],
) -> Response:
    proto = session_svc.planned_protocol(db, user, session_id)
    return page(request, "segments.html", user, seg=_segment_picture(proto, angle))


@router.get("/sessions/{session_id}/curve.json", dependencies=[WRITE])
def session_curve(
    db: DbDep,
    user: CurrentUser,
    session_id: Id,
    minutes: Annotated[float | None, Query(gt=0.0, le=45.0, allow_inf_nan=False)] = None,
    clinician_max_force_n: Annotated[
        float | None, Query(gt=0.0, le=DEVICE_MAX_FORCE_N, allow_inf_nan=False)
    ] = None,
) -> Response:
    """The planned session's target curve ahead of time (the set-up page's chart)."""
    proto = session_svc.planned_protocol(db, user, session_id)
    if minutes is not None:
        proto = session_svc.protocol_checked(proto, minutes=minutes)
    return JSONResponse(curve_data(proto, clinician_max_force_n))


@router.get("/live/{session_id}/curve.json", dependencies=[WRITE])
def live_curve(ctx: CtxDep, session_id: Id) -> Response:
    """The running session's target curve, as its controller plans it (the monitor draws the
    live trace over it)."""
    entry = _entry(ctx, session_id)
    return JSONResponse(curve_data(entry.live.protocol, entry.clinician_max_force_n))


@router.post("/sessions/{session_id}/start", dependencies=[WRITE])
def session_start(
    ctx: CtxDep,
    user: CurrentUser,
    session_id: Id,
    minutes: Annotated[str, Form(max_length=10)] = "",
    speed: Annotated[str, Form(max_length=10)] = "1",
    emg: Annotated[str | None, Form(max_length=5)] = None,
    clinician_max_force_n: Annotated[str, Form(max_length=10)] = "",
    harness_fastened: Annotated[str | None, Form(max_length=5)] = None,
    stop_switch_in_hand: Annotated[str | None, Form(max_length=5)] = None,
    contraindications_reconfirmed: Annotated[str | None, Form(max_length=5)] = None,
) -> Response:
    try:
        req = SessionStart.model_validate(
            {
                "minutes": forms.real(minutes, "minutes"),
                # empty: real time; 0 is refused by the schema's range, not run at 1x
                "speed": _or_default(forms.real(speed, "speed"), 1.0),
                "emg": forms.checkbox(emg, "emg"),
                "clinician_max_force_n": forms.real(clinician_max_force_n, "clinician_max_force_n"),
                "harness_fastened": forms.checkbox(harness_fastened, "harness_fastened"),
                "stop_switch_in_hand": forms.checkbox(stop_switch_in_hand, "stop_switch_in_hand"),
                "contraindications_reconfirmed": forms.checkbox(
                    contraindications_reconfirmed, "contraindications_reconfirmed"
                ),
            }
        )
    except ValidationError as exc:
        raise InputError("session", describe_validation_error(exc)) from None
    start_course_session(ctx, user, session_id, req)
    return redirect(f"/live/{session_id}")


def _or_default(value: float | None, default: float) -> float:
    return default if value is None else value


def _entry(ctx: Any, session_id: int) -> LiveEntry:
    entry: LiveEntry | None = ctx.live.get(session_id)
    if entry is None:
        raise NotFoundError("running session", session_id)
    return entry


@router.get("/live/{session_id}", response_class=HTMLResponse, dependencies=[WRITE])
def live_monitor(
    request: Request,
    ctx: CtxDep,
    db: DbDep,
    user: Annotated[Actor, Depends(page_user)],
    session_id: Id,
) -> Response:
    entry = ctx.live.get(session_id)
    if entry is None:
        return redirect(f"/sessions/{session_id}")
    return _monitor(request, ctx, user, entry, patient_view=False)


@router.get("/live/{session_id}/patient", response_class=HTMLResponse, dependencies=[WRITE])
def live_patient_view(
    request: Request, ctx: CtxDep, user: Annotated[Actor, Depends(page_user)], session_id: Id
) -> Response:
    return _monitor(request, ctx, user, _entry(ctx, session_id), patient_view=True)


def _monitor(
    request: Request, ctx: Any, user: Actor, entry: LiveEntry, *, patient_view: bool
) -> Response:
    from spinecare.web.i18n import messages, start_warning
    from spinecare.web.live import CLAMP_SEVERITY, EMG_FINE

    lang = lang_of(request)
    return page(
        request,
        "live.html",
        user,
        e=entry,
        warnings=[start_warning(w, lang) for w in getattr(entry.live, "warnings", [])],
        proto=entry.live.protocol,
        fields=FRAME_FIELDS,
        patient_view=patient_view,
        messages=messages(lang_of(request)),
        clamp_severity=CLAMP_SEVERITY,
        emg_fine=EMG_FINE,
        table_line=describe_table(ctx.table, lang_of(request)),
    )


@router.get("/live/{session_id}/stream", dependencies=[WRITE])
async def live_stream(request: Request, ctx: CtxDep, session_id: Id) -> Response:
    """Server-Sent Events: batches of new ticks (``ticks``), then ``end``. A reconnecting
    browser sends ``Last-Event-ID`` and gets what it missed from the ring."""
    entry = _entry(ctx, session_id)
    lang = lang_of(request)
    header = request.headers.get("last-event-id", "")
    # A header the browser did not write (not ASCII digits, absurdly long) means a fresh start.
    fresh = max(0, entry.seq - CATCH_UP_TICKS)
    ok = header.isascii() and header.isdecimal() and len(header) <= 12
    last = int(header) if ok else fresh

    async def events() -> Any:
        nonlocal last
        while True:
            frames, lost = entry.frames_since(last)
            if frames:
                last = frames[-1].seq
                rows = [f.row() for f in frames]
                for row in rows:  # why it ended, in the monitor's language
                    if row[END_REASON]:
                        row[END_REASON] = end_reason_text(row[END_REASON], lang)
                yield {
                    "event": "ticks",
                    "id": str(last),
                    "data": json.dumps({"lost": lost, "rows": rows}, separators=(",", ":")),
                }
            elif not entry.running:
                yield {"event": "end", "data": json.dumps({"error": entry.error})}
                return
            await entry.wait_after(last, WAIT_S)

    return EventSourceResponse(events(), ping=10, send_timeout=10)


@router.post("/live/{session_id}/stop", dependencies=[WRITE])
def live_stop(
    request: Request, ctx: CtxDep, db: DbDep, user: CurrentUser, session_id: Id
) -> Response:
    reason = f"stop on the monitor ({user.username})"
    _entry(ctx, session_id).stop(reason)  # the table first, the record after
    record_control(db, user, session_id, "stop", reason)
    return _command_done(request, session_id)


@router.post("/live/{session_id}/pause", dependencies=[WRITE])
def live_pause(
    request: Request,
    ctx: CtxDep,
    db: DbDep,
    user: CurrentUser,
    session_id: Id,
    paused: Annotated[str, Form(max_length=5)] = "on",
) -> Response:
    pause = forms.switch(paused, "paused")
    _entry(ctx, session_id).pause(pause)
    record_control(db, user, session_id, "pause" if pause else "resume")
    return _command_done(request, session_id)


def _command_done(request: Request, session_id: int) -> Response:
    if request.headers.get("x-csrf-token"):  # fetch() from the monitor
        return Response(status_code=204)
    return redirect(f"/live/{session_id}")


# -- history, outcomes, reports -------------------------------------------------------------
@router.get("/sessions/{session_id}", response_class=HTMLResponse, dependencies=[READ])
def session_history(
    request: Request,
    ctx: CtxDep,
    db: DbDep,
    user: Annotated[Actor, Depends(page_user)],
    session_id: Id,
) -> Response:
    s = session_svc.get_session(db, user, session_id)
    course = course_svc.get_course(db, user, s.course_id)
    p = patient_svc.get_patient(db, user, course.patient_id, include_deleted=True)
    outcomes = outcome_svc.course_outcomes(db, user, course.id, clinic=ctx.settings.clinic)
    mine = next((o for o in outcomes.sessions if o.session_number == s.number), None)
    entry = ctx.live.get(session_id)
    has_telemetry = (
        bool(s.telemetry_dir) and (FsPath(s.telemetry_dir or "") / "telemetry.csv").is_file()
    )
    events = []
    has_emg = False
    if has_telemetry:
        from spinecare.runtime.recorder import EMG_SAMPLES, load_events

        has_emg = (FsPath(s.telemetry_dir or "") / EMG_SAMPLES).is_file()
        events = [
            e
            for e in load_events(FsPath(s.telemetry_dir or ""))
            if e.get("kind") in ("guarding_onset", "fault", "stop", "session_end")
        ]
    return page(
        request,
        "history.html",
        user,
        s=s,
        course=course,
        p=p,
        outcome=mine,
        events=events,
        has_telemetry=has_telemetry,
        has_emg=has_emg,
        live_running=entry is not None and entry.running,
        can_write=user.role in CLINICAL_WRITERS,
    )


@router.get("/sessions/{session_id}/telemetry.json", dependencies=[READ])
def session_telemetry(db: DbDep, user: CurrentUser, session_id: Id) -> Response:
    from spinecare.runtime.recorder import load_events, load_telemetry

    s = session_svc.get_session(db, user, session_id)
    if not s.telemetry_dir or not (FsPath(s.telemetry_dir) / "telemetry.csv").is_file():
        raise NotFoundError("telemetry of session", session_id)
    d = FsPath(s.telemetry_dir)
    cols = load_telemetry(d)
    step = REPLAY_STEP
    keep = ("t_s", "target_n", "measured_n", "segment_force_n", "muscle_tension_n")
    data: dict[str, list[Any]] = {
        k: [round(float(x), 2) for x in cols[k][::step]] for k in keep if k in cols
    }
    data["phase"] = [str(x) for x in cols["phase"][::step]] if "phase" in cols else []
    guarding = [float(e["t_s"]) for e in load_events(d) if e.get("kind") == "guarding_onset"]
    return JSONResponse({"columns": data, "guarding_s": guarding})


@router.get("/sessions/{session_id}/emg.txt", dependencies=[READ])
def session_emg(db: DbDep, user: CurrentUser, session_id: Id) -> Response:
    """The raw sEMG the session's loop received, as ``emg.txt`` in its directory: a reviewer
    runs ``spinecare emg detect`` over it (the session's detector, the session's samples)."""
    from spinecare.runtime.recorder import EMG_SAMPLES

    s = session_svc.get_session(db, user, session_id)
    path = FsPath(s.telemetry_dir or "") / EMG_SAMPLES
    if not s.telemetry_dir or not path.is_file():
        raise NotFoundError("EMG recording of session", session_id)
    return FileResponse(path, media_type="text/plain", filename=f"session-{session_id}-emg.txt")


def _pdf(path: FsPath, name: str) -> FileResponse:
    return FileResponse(
        path,
        media_type="application/pdf",
        filename=name,
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


def _tmp_pdf() -> FsPath:
    fd, name = tempfile.mkstemp(prefix="spinecare-", suffix=".pdf")
    os.close(fd)
    return FsPath(name)


def _clinic(ctx: Any) -> Any:
    """The full letterhead (address, physicians, tax number, bank details, logo) from the
    clinic settings, as the CLI prints it."""
    from spinecare.reports.render import ClinicInfo

    return ClinicInfo.from_settings(ctx.settings.clinic)


@router.get("/sessions/{session_id}/report.pdf", dependencies=[READ])
def session_report_pdf(
    request: Request, ctx: CtxDep, db: DbDep, user: CurrentUser, session_id: Id
) -> Response:
    """The session report from the records, as ``spinecare documents session-report``
    writes it: dated by the day the session ran, its operator, pain before and after."""
    from spinecare.reports.session_report import render_session_report
    from spinecare.services.reports import session_report_data

    data = session_report_data(db, user, session_id, zone=ctx.settings.clinic.zone)
    out = _tmp_pdf()
    render_session_report(data, out, clinic=_clinic(ctx), lang=lang_of(request))
    return _pdf(out, f"session-{session_id}.pdf")


@router.get("/courses/{course_id}/report.pdf", dependencies=[READ])
def course_report_pdf(
    request: Request, ctx: CtxDep, db: DbDep, user: CurrentUser, course_id: Id
) -> Response:
    from spinecare.reports.course_report import render_course_report
    from spinecare.services.reports import course_report_data

    data = course_report_data(db, user, course_id, zone=ctx.settings.clinic.zone)
    out = _tmp_pdf()
    render_course_report(data, out, clinic=_clinic(ctx), lang=lang_of(request))
    return _pdf(out, f"course-{course_id}.pdf")


@router.get("/courses/{course_id}/documents.zip", dependencies=[READ])
def course_documents_zip(
    request: Request, ctx: CtxDep, db: DbDep, user: CurrentUser, course_id: Id
) -> Response:
    """All of the course's documents in one step (``spinecare documents course`` as a zip)."""
    from spinecare.web.documents import course_zip

    clinic = ctx.settings.clinic
    out = course_zip(db, user, course_id, _clinic(ctx), clinic.zone, lang_of(request))
    return FileResponse(
        out,
        media_type="application/zip",
        filename=f"course-{course_id}-documents.zip",
        background=BackgroundTask(out.unlink, missing_ok=True),
    )


@router.get("/patients/{patient_id}/consent.pdf", dependencies=[READ])
def consent_pdf(
    request: Request,
    ctx: CtxDep,
    db: DbDep,
    user: CurrentUser,
    patient_id: Id,
    region: Region = Region.LUMBAR,
) -> Response:
    from spinecare.reports.documents import render_consent

    p = patient_svc.get_patient(db, user, patient_id)
    out = _tmp_pdf()
    render_consent(
        region.value,
        out,
        clinic=_clinic(ctx),
        patient_name=p.name,
        birth_date=p.birth_date,
        patient_address=patient_svc.postal_address(p),
        lang=lang_of(request),
    )
    return _pdf(out, f"consent-{patient_id}.pdf")


@router.post("/sessions/{session_id}/nrs", dependencies=[WRITE])
def session_nrs(
    db: DbDep,
    user: CurrentUser,
    session_id: Id,
    nrs_before: Annotated[str, Form(max_length=3)] = "",
    nrs_after: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    data = NrsRecord(
        nrs_before=forms.whole(nrs_before, "nrs_before"),
        nrs_after=forms.whole(nrs_after, "nrs_after"),
    )
    outcome_svc.record_nrs(db, user, session_id, data)
    db.commit()
    return redirect(f"/sessions/{session_id}#outcomes")


@router.post("/sessions/{session_id}/odi", dependencies=[WRITE])
def session_odi(
    db: DbDep, user: CurrentUser, session_id: Id, answers: Annotated[str, Form(max_length=60)]
) -> Response:
    record: OdiRecord = parse_odi(answers)
    outcome_svc.record_odi(db, user, record, session_id=session_id)
    db.commit()
    return redirect(f"/sessions/{session_id}#outcomes")


# -- invoices -------------------------------------------------------------------------------
@router.get("/invoices", response_class=HTMLResponse, dependencies=[BILL])
def invoices(request: Request, db: DbDep, user: Annotated[Actor, Depends(page_user)]) -> Response:
    items = invoice_svc.list_invoices(db, user)
    names = {
        p.id: p.name
        for p in patient_svc.list_patients(db, user, limit=100_000, include_deleted=True)
    }
    return page(request, "invoices.html", user, invoices=list(reversed(items)), names=names)


@router.post("/invoices", dependencies=[BILL])
def invoice_create(
    db: DbDep,
    user: CurrentUser,
    patient_id: Annotated[int, Form(ge=1, le=2**31 - 1)],
    course_id: Annotated[int, Form(ge=1, le=2**31 - 1)],
) -> Response:
    invoice_svc.create_invoice(db, user, patient_id, course_id=course_id)
    db.commit()
    return redirect("/invoices")


@router.post("/invoices/{invoice_id}/issue", dependencies=[BILL])
def invoice_issue(db: DbDep, user: CurrentUser, invoice_id: Id) -> Response:
    invoice_svc.issue_invoice(db, user, invoice_id)
    db.commit()
    return redirect("/invoices")


@router.post("/invoices/{invoice_id}/pay", dependencies=[BILL])
def invoice_pay(db: DbDep, user: CurrentUser, invoice_id: Id) -> Response:
    invoice_svc.mark_paid(db, user, invoice_id)
    db.commit()
    return redirect("/invoices")


@router.post("/invoices/{invoice_id}/cancel", dependencies=[BILL])
def invoice_cancel(db: DbDep, user: CurrentUser, invoice_id: Id) -> Response:
    invoice_svc.cancel_invoice(db, user, invoice_id)
    db.commit()
    return redirect("/invoices")


@router.get("/invoices/{invoice_id}.pdf", dependencies=[BILL])
def invoice_pdf(
    request: Request, ctx: CtxDep, db: DbDep, user: CurrentUser, invoice_id: Id
) -> Response:
    from spinecare.reports.documents import render_invoice

    inv = invoice_svc.load_invoice(db, user, invoice_id)
    out = _tmp_pdf()
    render_invoice(inv, out, clinic=_clinic(ctx), lang=lang_of(request))
    return _pdf(out, f"invoice-{inv.number or invoice_id}.pdf")


# -- audit and users ------------------------------------------------------------------------
@router.get("/audit", response_class=HTMLResponse, dependencies=[ADMIN])
def audit_page(
    request: Request,
    db: DbDep,
    user: Annotated[Actor, Depends(page_user)],
    entity: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    entries = audit_log(db, user, entity=entity or None, limit=300)
    return page(request, "audit.html", user, entries=entries, entity=entity, changed=changed_fields)


@router.get("/users", response_class=HTMLResponse, dependencies=[ADMIN])
def users_page(
    request: Request, ctx: CtxDep, db: DbDep, user: Annotated[Actor, Depends(page_user)]
) -> Response:
    users = user_svc.list_users(db, user)
    now, zone = datetime.now(UTC), ctx.settings.clinic.zone
    # An account locked by failed logins, until when (clinic time): an admin's reset opens it.
    locked = {
        u.id: as_utc(u.locked_until).astimezone(zone).strftime("%H:%M")
        for u in users
        if u.locked_until is not None and as_utc(u.locked_until) > now
    }
    return page(request, "users.html", user, users=users, roles=list(Role), locked=locked)


@router.post("/users/{user_id}/active", dependencies=[ADMIN])
def users_active(
    db: DbDep,
    user: CurrentUser,
    user_id: Id,
    active: Annotated[str | None, Form(max_length=5)] = None,
) -> Response:
    user_svc.set_active(db, user, user_id, forms.switch(active, "active"))
    db.commit()
    return redirect("/users")


@router.post("/users/{user_id}/reset", response_class=HTMLResponse, dependencies=[ADMIN])
def users_reset(request: Request, db: DbDep, user: CurrentUser, user_id: Id) -> Response:
    """A new one-time password, shown on this page once (never stored in the cookie)."""
    target = next((u for u in user_svc.list_users(db, user) if u.id == user_id), None)
    if target is None:
        raise NotFoundError("user", user_id)
    password = user_svc.reset_password(db, user, target.username)
    db.commit()
    users = user_svc.list_users(db, user)
    return page(
        request,
        "users.html",
        user,
        users=users,
        roles=list(Role),
        one_time=(target.username, password),
    )


@router.post("/users", dependencies=[ADMIN])
def users_create(
    db: DbDep,
    user: CurrentUser,
    username: Annotated[str, Form(max_length=64)],
    role: Annotated[Role, Form()],
    password: Annotated[str, Form(max_length=1024)],
    full_name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    user_svc.create_user(
        db,
        user,
        UserCreate(username=username, role=role, full_name=full_name, password=SecretStr(password)),
    )
    db.commit()
    return redirect("/users")
