"""The orthosis pathway's use cases on SQLite and PostgreSQL: who may do what, follow-ups
planned from the fitting (and refused before their time), corrections that keep what they do not
name, changes against baseline, the osteoporosis follow-up, posture days (each hour counted
once)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from spinecare.clinical.findings import Fracture
from spinecare.clinical.orthosis import (
    FollowUpMeasures,
    FollowUpVisit,
    OrthosisDevice,
    add_months,
)
from spinecare.clinical.osteoporosis_followup import (
    DrugClass,
    DrugTherapy,
    HeightRecord,
    RiskFactorAnswer,
)
from spinecare.clinical.vocab import FractureKind
from spinecare.errors import InputError
from spinecare.services import orthosis as svc
from spinecare.services.auth import Actor
from spinecare.services.errors import NotFoundError, PermissionDeniedError
from spinecare.services.findings import record_fracture
from spinecare.signals.posture import PostureAnalysis, Reminder, Slump, WearPeriod
from spinecare.store.audit import AuditedSession, audit_entries
from spinecare.store.enums import Role

TODAY = date.today()
START = TODAY - timedelta(days=200)


def _prescribe(db: AuditedSession, actor: Actor, patient_id: int) -> svc.PrescriptionPublic:
    return svc.prescribe_orthosis(
        db,
        actor,
        patient_id,
        svc.PrescriptionCreate(device=OrthosisDevice.SPINOMED, size="M", prescribed_on=START),
    )


def test_a_physician_prescribes_and_the_followups_move_with_the_fitting(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    with pytest.raises(PermissionDeniedError):
        _prescribe(db, actors[Role.THERAPIST], patient_id)
    p = _prescribe(db, actors[Role.PHYSICIAN], patient_id)
    assert [f.visit for f in p.followups] == list(FollowUpVisit)
    assert p.followups[0].due_on == START and p.prescriber == "physician"
    fitted = START + timedelta(days=10)
    p = svc.fit_orthosis(db, actors[Role.THERAPIST], p.id, svc.FitData(fitted_on=fitted, size="L"))
    assert p.size == "L" and p.fitted_by == "therapist"
    due = {f.visit: f.due_on for f in p.followups}
    assert due[FollowUpVisit.BASELINE] == fitted
    assert (due[FollowUpVisit.MONTH_6] - fitted).days in range(181, 185)
    with pytest.raises(InputError, match="fitted_on"):
        svc.fit_orthosis(
            db, actors[Role.THERAPIST], p.id, svc.FitData(fitted_on=START - timedelta(days=1))
        )
    with pytest.raises(PermissionDeniedError):
        svc.fit_orthosis(db, actors[Role.BILLING], p.id, svc.FitData(fitted_on=fitted))
    with pytest.raises(NotFoundError):
        svc.get_prescription(db, actors[Role.BILLING], 999)
    db.commit()
    assert audit_entries(db, "orthosis_prescriptions", p.id)
    assert len(svc.list_prescriptions(db, actors[Role.BILLING], patient_id)) == 1


def test_changes_from_baseline_beside_the_trials(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    doc = actors[Role.PHYSICIAN]
    p = _prescribe(db, doc, patient_id)
    svc.fit_orthosis(db, doc, p.id, svc.FitData(fitted_on=START))
    base = FollowUpMeasures(back_extensor_strength=200.0, kyphosis_angle=60.0, pain=6.0)
    later = FollowUpMeasures(back_extensor_strength=250.0, kyphosis_angle=57.0, pain=6.0)
    svc.record_followup(
        db, doc, p.id, FollowUpVisit.BASELINE, svc.FollowUpRecord(done_on=START, measures=base)
    )
    with pytest.raises(InputError, match="measures"):
        svc.record_followup(
            db, doc, p.id, FollowUpVisit.MONTH_6,
            svc.FollowUpRecord(done_on=TODAY, measures=FollowUpMeasures()),
        )  # fmt: skip
    svc.record_followup(
        db, doc, p.id, FollowUpVisit.MONTH_6, svc.FollowUpRecord(done_on=TODAY, measures=later)
    )
    db.commit()
    prog = svc.orthosis_progress(db, actors[Role.BILLING], p.id, today=START + timedelta(days=7))
    assert prog.compared_visit is FollowUpVisit.MONTH_6
    (visit,) = prog.changes
    pct = {c.key: c.percent for c in visit.changes}
    assert pct == {"back_extensor_strength": 25.0, "kyphosis_angle": -5.0, "pain": 0.0}
    rows = {r.key: r for r in prog.evidence}
    assert rows["back_extensor_strength"].patient_percent == 25.0
    assert any(e.percent == 26.9 for e in rows["back_extensor_strength"].published)
    assert prog.planned_hours_today == 1.5  # one week into the default build-up
    assert prog.next_due is not None and prog.next_due.visit is FollowUpVisit.MONTH_3


def test_a_followup_is_refused_before_its_time(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    """A 3- or 6-month visit recorded on the day of the fitting would be shown as the change
    after 6 months beside the trials' 6-month results; it counts from two weeks before its due
    date after the fitting, and only once the orthosis is fitted."""
    doc = actors[Role.PHYSICIAN]
    p = _prescribe(db, doc, patient_id)
    pain = svc.FollowUpRecord(done_on=START, measures=FollowUpMeasures(pain=3.0))
    with pytest.raises(InputError, match=r"visit: month_3 .*not fitted"):
        svc.record_followup(db, doc, p.id, FollowUpVisit.MONTH_3, pain)
    svc.record_followup(db, doc, p.id, FollowUpVisit.BASELINE, pain)  # before the fitting: fine
    svc.fit_orthosis(db, doc, p.id, svc.FitData(fitted_on=START))
    due = add_months(START, 6)
    for early in (START, due - timedelta(days=15)):
        with pytest.raises(InputError, match=f"visit: month_6 is due from {due - timedelta(14)}"):
            svc.record_followup(
                db, doc, p.id, FollowUpVisit.MONTH_6,
                svc.FollowUpRecord(done_on=early, measures=FollowUpMeasures(pain=3.0)),
            )  # fmt: skip
    db.commit()
    p = svc.get_prescription(db, doc, p.id)
    assert [f.done_on for f in p.followups] == [START, None, None]  # nothing stored
    svc.record_followup(
        db, doc, p.id, FollowUpVisit.MONTH_6,
        svc.FollowUpRecord(done_on=due - timedelta(days=14), measures=FollowUpMeasures(pain=2.0)),
    )  # fmt: skip
    # a later fitting would put the recorded 6-month visit before its time
    with pytest.raises(InputError, match="fitted_on: month_6 was recorded"):
        svc.fit_orthosis(db, doc, p.id, svc.FitData(fitted_on=START + timedelta(days=7)))
    db.commit()
    prog = svc.orthosis_progress(db, doc, p.id)
    assert prog.prescription.fitted_on == START
    assert prog.compared_visit is FollowUpVisit.MONTH_6


def test_a_correction_changes_only_the_measures_given(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    doc = actors[Role.PHYSICIAN]
    p = _prescribe(db, doc, patient_id)
    first = FollowUpMeasures(pain=5.0, well_being=50.0)
    svc.record_followup(
        db, doc, p.id, FollowUpVisit.BASELINE,
        svc.FollowUpRecord(done_on=START, measures=first, note="first visit"),
    )  # fmt: skip
    db.commit()
    f = svc.record_followup(
        db, doc, p.id, FollowUpVisit.BASELINE,
        svc.FollowUpRecord(done_on=START, measures=FollowUpMeasures(pain=4.0)),
    )  # fmt: skip
    db.commit()
    assert f.measures.values() == {"pain": 4.0, "well_being": 50.0}
    assert f.note == "first visit"  # not given: kept
    f = svc.record_followup(  # no date: the day recorded, not today
        db, doc, p.id, FollowUpVisit.BASELINE,
        svc.FollowUpRecord(measures=FollowUpMeasures(abdominal_flexor_strength=120.0)),
    )  # fmt: skip
    db.commit()
    assert f.done_on == START and f.measures.values()["pain"] == 4.0
    with pytest.raises(InputError, match="nothing to correct"):
        svc.record_followup(db, doc, p.id, FollowUpVisit.BASELINE, svc.FollowUpRecord())
    last = audit_entries(db, "orthosis_followups", f.id)[-2]  # the correction of the pain
    assert last.action == "update" and last.before is not None and last.after is not None
    assert Decimal(last.before["pain"]) == 5 and Decimal(last.after["pain"]) == 4
    assert Decimal(last.after.get("well_being", last.before["well_being"])) == 50


def test_osteoporosis_followup_records_and_summary(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    nurse = actors[Role.THERAPIST]
    svc.record_risk_factor(
        db, nurse, patient_id, RiskFactorAnswer(code="smoking", present=True, recorded_on=TODAY)
    )
    therapy = svc.record_drug_therapy(
        db, nurse, patient_id,
        DrugTherapy(
            drug_class=DrugClass.BISPHOSPHONATE, substance="alendronate", dose="70 mg weekly",
            started_on=START, prescriber="Dr. Hausarzt",
        ),
    )  # fmt: skip
    svc.stop_drug_therapy(db, nurse, therapy.id, TODAY)
    for days, cm in ((0, 163.0), (150, 160.5)):
        svc.record_height(
            db,
            nurse,
            patient_id,
            HeightRecord(measured_on=START + timedelta(days=days), height_cm=cm),
        )
    record_fracture(
        db, nurse, patient_id,
        Fracture(level="L1", date=START, kind=FractureKind.OSTEOPOROTIC, compression=True),
    )  # fmt: skip
    with pytest.raises(PermissionDeniedError):
        svc.record_height(
            db, actors[Role.BILLING], patient_id, HeightRecord(measured_on=TODAY, height_cm=160.0)
        )
    db.commit()
    s = svc.osteoporosis_summary(db, actors[Role.BILLING], patient_id)
    f = s.followup
    assert f.height_loss.prospective_loss_cm == 2.5 and f.height_loss.imaging_indicated
    assert {w.code: w.status for w in f.workup}["spine_imaging"] == "indicated"
    assert {r.code: r.present for r in f.risk_factors}["smoking"] is True
    assert f.drug_therapy[0].stopped_on == TODAY and s.drug_therapy_ids == [therapy.id]
    assert [x.level for x in f.fractures] == ["L1"]
    assert s.bone is None  # no DXA recorded


def _analysis(wear_s: float, slumped_s: float, reminders: int) -> PostureAnalysis:
    return PostureAnalysis(
        samples=1, rate_hz=50.0, duration_s=wear_s, wear_time_s=wear_s,
        upright_time_s=wear_s - slumped_s, slumped_time_s=slumped_s,
        upright_fraction=(wear_s - slumped_s) / wear_s,
        wear_periods=[WearPeriod(start_s=0.0, end_s=wear_s)],
        slumps=[Slump(onset_s=100.0, end_s=100.0 + slumped_s, peak_deg=30.0, reminded_s=None)],
        reminders=[
            Reminder(t_s=200.0 + i, slump_onset_s=100.0, angle_deg=30.0) for i in range(reminders)
        ],
        calibration=None, settings={},
    )  # fmt: skip


def test_posture_days_against_the_wearing_plan(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    zone = ZoneInfo("Europe/Berlin")
    doc = actors[Role.PHYSICIAN]
    fitted = TODAY - timedelta(days=9)
    p = _prescribe(db, doc, patient_id)
    svc.fit_orthosis(db, doc, p.id, svc.FitData(fitted_on=fitted))
    for day in (0, 8):  # day 0: plan 1 h; day 8: plan 1.5 h
        start = datetime.combine(fitted + timedelta(days=day), datetime.min.time(), zone)
        svc.record_posture(
            db, actors[Role.THERAPIST], patient_id, start + timedelta(hours=9),
            _analysis(3600.0, 600.0, 2), source="simulated",
        )  # fmt: skip
    with pytest.raises(InputError, match="start"):
        svc.record_posture(
            db, doc, patient_id, datetime.now(UTC) + timedelta(days=1), _analysis(60.0, 0.0, 0),
            source="csv",
        )  # fmt: skip
    db.commit()
    s = svc.posture_summary(db, actors[Role.BILLING], patient_id, zone=zone)
    assert [r.prescription_id for r in s.recordings] == [p.id, p.id]
    by_day = {d.day: d for d in s.days}
    assert len(s.days) == 9  # fitted day to the last recording, worn or not
    assert by_day[fitted].wear_vs_plan == 1.0 and by_day[fitted].reminders == 2
    assert by_day[fitted + timedelta(days=8)].wear_vs_plan == pytest.approx(3600 / 5400, abs=1e-3)
    assert by_day[fitted + timedelta(days=3)].wear_time_s == 0.0
    assert s.weeks and "Debrunner" in s.accuracy


def test_a_posture_recording_counts_once(
    db: AuditedSession, actors: dict[Role, Actor], patient_id: int
) -> None:
    """The same recording imported again, or another covering the same hours, would double
    the wear time and reminders of those days: both are refused, back-to-back ones are not."""
    zone = ZoneInfo("Europe/Berlin")
    ther = actors[Role.THERAPIST]
    start = datetime.combine(TODAY - timedelta(days=2), datetime.min.time(), zone)
    start += timedelta(hours=9)
    first = svc.record_posture(
        db, ther, patient_id, start, _analysis(3600.0, 600.0, 2), source="csv", file_name="a.csv"
    )
    db.commit()
    with pytest.raises(InputError, match=f"start: already recorded as recording {first.id}"):
        svc.record_posture(
            db, ther, patient_id, start.astimezone(UTC), _analysis(3600.0, 600.0, 2),
            source="csv", file_name="a.csv",
        )  # fmt: skip
    with pytest.raises(InputError, match=f"start: overlaps recording {first.id}"):
        svc.record_posture(
            db, ther, patient_id, start + timedelta(minutes=59), _analysis(1800.0, 0.0, 1),
            source="csv", file_name="b.csv",
        )  # fmt: skip
    svc.record_posture(  # right after the first: its own hour
        db, ther, patient_id, start + timedelta(hours=1), _analysis(1800.0, 0.0, 1),
        source="csv", file_name="b.csv",
    )  # fmt: skip
    db.commit()
    s = svc.posture_summary(db, actors[Role.BILLING], patient_id, zone=zone)
    assert len(s.recordings) == 2
    (day,) = s.days
    assert day.wear_time_s == 5400.0 and day.reminders == 3
