"""A demo clinic for ``make run``: a few patients, screening, a planned course, one finished
session (run on the simulated table, faster than real time) with its outcomes and an invoice.

Everything goes through the services as the admin, so the audit log shows how it came about.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spinecare.clinical.findings import CI_CODES, Finding
from spinecare.clinical.vocab import BmdSite, Menopause, Sex
from spinecare.errors import InputError
from spinecare.services import courses as course_svc
from spinecare.services import findings as findings_svc
from spinecare.services import invoices as invoice_svc
from spinecare.services import outcomes as outcome_svc
from spinecare.services import patients as patient_svc
from spinecare.services import screening as screening_svc
from spinecare.services._common import act_as
from spinecare.services.auth import Actor
from spinecare.services.courses import CoursePlan
from spinecare.services.findings import BmdCreate
from spinecare.services.outcomes import NrsRecord, OdiRecord
from spinecare.services.patients import PatientCreate
from spinecare.services.sessions import SessionOptions, course_session_prepare
from spinecare.settings import Settings, clinic_today
from spinecare.store import Store
from spinecare.store.enums import Insurance
from spinecare.store.models import Patient, TreatmentSession
from spinecare.vocab import Region

DEMO_PATIENTS: tuple[dict[str, object], ...] = (
    {
        "name": "Erika Mustermann",
        "birth_date": date(1962, 3, 14),
        "sex": Sex.FEMALE,
        "weight_kg": Decimal("70.0"),
        "height_cm": Decimal("165.0"),
        "insurance": Insurance.PRIVATE,
        "menopausal_status": Menopause.POST,
        "icd_consent": True,
    },
    {
        "name": "Jürgen Weiß",
        "birth_date": date(1958, 11, 2),
        "sex": Sex.MALE,
        "weight_kg": Decimal("86.5"),
        "height_cm": Decimal("181.0"),
        "insurance": Insurance.SELF_PAYER,
    },
    {
        "name": "Zoë Öztürk",
        "birth_date": date(1985, 6, 30),
        "sex": Sex.FEMALE,
        "weight_kg": Decimal("61.0"),
        "height_cm": Decimal("168.0"),
        "insurance": Insurance.STATUTORY,
    },
)


# A patient on the orthosis pathway: an osteoporotic fracture of L1 four months ago, a Spinomed
# fitted a week after the prescription, the baseline and 3-month follow-ups done (values in the
# range the trials report; not a real patient).
ORTHOSIS_PATIENT: dict[str, object] = {
    "name": "Helga Brandt",
    "birth_date": date(1951, 9, 23),
    "sex": Sex.FEMALE,
    "weight_kg": Decimal("63.0"),
    "height_cm": Decimal("158.0"),
    "insurance": Insurance.STATUTORY,
    "menopausal_status": Menopause.POST,
}


def _orthosis_pathway(db: Session, actor: Actor, pid: int) -> None:
    from spinecare.clinical.findings import Fracture
    from spinecare.clinical.orthosis import FollowUpMeasures, FollowUpVisit, OrthosisDevice
    from spinecare.clinical.osteoporosis_followup import (
        DrugClass,
        DrugTherapy,
        HeightRecord,
        RiskFactorAnswer,
    )
    from spinecare.clinical.vocab import FractureKind
    from spinecare.services import orthosis as ortho_svc

    today = clinic_today()
    # Fitted 193 days ago: the 3-month visit is on record and the 6-month one is due now
    # (services/orthosis.py accepts it from two weeks before its date).
    start = today - timedelta(days=200)
    findings_svc.record_fracture(
        db,
        actor,
        pid,
        Fracture(
            level="L1",
            date=start - timedelta(days=20),
            kind=FractureKind.OSTEOPOROTIC,
            compression=True,
        ),
    )
    findings_svc.record_bmd(
        db,
        actor,
        pid,
        BmdCreate(
            measured_on=start - timedelta(days=10),
            site=BmdSite.LUMBAR_SPINE,
            t_score=Decimal("-3.1"),
        ),
    )
    rx = ortho_svc.prescribe_orthosis(
        db,
        actor,
        pid,
        ortho_svc.PrescriptionCreate(
            device=OrthosisDevice.SPINOMED,
            size="M",
            prescribed_on=start,
            fitted_on=start + timedelta(days=7),
            reason="osteoporotische Kompressionsfraktur L1",
        ),
    )
    visits = {
        FollowUpVisit.BASELINE: (
            start + timedelta(days=7),
            (180.0, 120.0, 52.0, 14.0, 6.0, 48.0, 55.0),
        ),
        FollowUpVisit.MONTH_3: (
            start + timedelta(days=98),
            (215.0, 138.0, 49.0, 12.5, 4.0, 58.0, 44.0),
        ),
    }
    keys = (
        "back_extensor_strength", "abdominal_flexor_strength", "kyphosis_angle", "body_sway",
        "pain", "well_being", "limitations_of_daily_living",
    )  # fmt: skip
    for visit, (day, values) in visits.items():
        ortho_svc.record_followup(
            db,
            actor,
            rx.id,
            visit,
            ortho_svc.FollowUpRecord(
                done_on=day,
                measures=FollowUpMeasures.model_validate(dict(zip(keys, values, strict=True))),
            ),
        )
    ortho_svc.record_risk_factor(
        db, actor, pid, RiskFactorAnswer(code="family_history", present=True, recorded_on=start)
    )
    ortho_svc.record_drug_therapy(
        db,
        actor,
        pid,
        DrugTherapy(
            drug_class=DrugClass.BISPHOSPHONATE,
            substance="Alendronat",
            dose="70 mg wöchentlich",
            started_on=start,
            prescriber="Dr. med. A. Hausarzt",
        ),
    )
    ortho_svc.record_height(
        db, actor, pid, HeightRecord(measured_on=start, height_cm=163.0, kind="recalled_adult")
    )
    ortho_svc.record_height(db, actor, pid, HeightRecord(measured_on=start, height_cm=158.0))


def _eligible(db: Session, actor: Actor, pid: int) -> None:
    for code in CI_CODES:
        findings_svc.record_finding(db, actor, pid, Finding(code=code, present=False))
    findings_svc.record_fracture_history(db, actor, pid, clinic_today())


def seed_demo(store: Store, settings: Settings, actor: Actor) -> bool:
    """Fill an empty clinic; False (and nothing done) when patients exist already."""
    with store.session() as db:
        if (db.scalar(select(func.count()).select_from(Patient)) or 0) > 0:
            return False
    ids: list[int] = []
    with store.unit_of_work() as db:
        for data in DEMO_PATIENTS:
            ids.append(patient_svc.add_patient(db, actor, PatientCreate.model_validate(data)).id)
        erika, juergen, _zoe = ids
        helga = patient_svc.add_patient(
            db, actor, PatientCreate.model_validate(ORTHOSIS_PATIENT)
        ).id
        _orthosis_pathway(db, actor, helga)
        _eligible(db, actor, erika)
        findings_svc.record_bmd(
            db,
            actor,
            erika,
            BmdCreate(
                measured_on=clinic_today() - timedelta(days=40),
                site=BmdSite.LUMBAR_SPINE,
                bmd_g_cm2=Decimal("0.912"),
                t_score=Decimal("-1.2"),
            ),
        )
        _eligible(db, actor, juergen)
        screening_svc.screen_patient(
            db, actor, erika, Region.LUMBAR, settings=settings.clinic.screening
        )
        screening_svc.screen_patient(
            db, actor, juergen, Region.LUMBAR, settings=settings.clinic.screening
        )
        start = clinic_today()
        course = course_svc.plan_course(
            db,
            actor,
            CoursePlan(
                patient_id=erika,
                region=Region.LUMBAR,
                segment="L4/5",
                sessions=15,
                per_week=3,
                start=start,
            ),
            clinic=settings.clinic,
        )
        course_svc.plan_course(
            db,
            actor,
            CoursePlan(
                patient_id=juergen,
                region=Region.LUMBAR,
                segment="L5/S1",
                sessions=15,
                per_week=2,
                start=start,
            ),
            clinic=settings.clinic,
        )
        first = course.sessions[0].id
        outcome_svc.record_odi(
            db, actor, OdiRecord(answers=[3, 2, 2, 1, 3, 2, 1, 2, 2, 1]), course_id=course.id
        )
    # Erika's first session runs now: booked for now as well, so that on a day the clinic is
    # closed (the demo made on a Sunday) it is not "done" a day before the day it was booked for.
    with store.unit_of_work() as db:
        act_as(db, actor)
        row = db.get(TreatmentSession, first)
        assert row is not None
        length = row.scheduled_end - row.scheduled_start
        start_at = datetime.now(UTC).replace(second=0, microsecond=0)
        row.scheduled_start, row.scheduled_end = start_at, start_at + length
        row.updated_at = start_at
    # On the simulated table (simulated clock: a second or two).
    from spinecare.cohort.run import VirtualSession, make_table

    out_dir = (
        Path(settings.session_root)
        / f"course-{course.id}"
        / ("s01-demo-" + datetime.now().strftime("%Y%m%d-%H%M%S"))
    )
    vs = VirtualSession(seed=7, region=Region.LUMBAR, weight_kg=70.0, segment="L4/5", emg=True)
    live = course_session_prepare(
        store.unit_of_work,
        actor,
        first,
        lambda now: make_table(vs, now),
        out_dir=out_dir,
        options=SessionOptions(emg=True, fsync=False),
        screening=settings.clinic.screening,
    )
    live.run()
    with store.unit_of_work() as db:
        outcome_svc.record_nrs(db, actor, first, NrsRecord(nrs_before=6, nrs_after=4))
    # A draft invoice for it (the service date is today); the billing office issues it.
    with contextlib.suppress(InputError), store.unit_of_work() as db:
        invoice_svc.create_invoice(db, actor, erika, session_ids=[first])
    return True
