"""Contraindication screening for spinal decompression: the seed's list as a rules table.

Each rule has a stable code, the seed's wording, the inputs it reads and where it applies (the
whole spine, or only the section to be treated). A rule answers one of three things: applies,
does not apply, or cannot tell (missing data). Missing data never reads as "no
contraindication": the decision is ``incomplete`` until every rule can answer, except that a
contraindication that does apply makes the patient ``not_eligible`` at once (the missing items
are still listed).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spinecare.clinical.bone import AGE_MIN_YEARS, BoneAssessment, BoneClass, assess_bone
from spinecare.clinical.findings import Finding, PatientFindings
from spinecare.clinical.orthosis import OrthosisRecommendation, orthosis_recommendation
from spinecare.clinical.screening_settings import SEED_COMPRESSION_FRACTURE_DAYS
from spinecare.clinical.screening_settings import ScreeningSettings as ScreeningSettings
from spinecare.clinical.vocab import FractureKind, Sex
from spinecare.errors import InputError, describe_validation_error
from spinecare.vocab import Region


class Scope(enum.StrEnum):
    SPINE = "spine"  # applies whichever region is treated
    TREATMENT_SECTION = "treatment_section"  # only when in the section to be treated


class Decision(enum.StrEnum):
    ELIGIBLE = "eligible"
    NOT_ELIGIBLE = "not_eligible"
    INCOMPLETE = "incomplete"


class AppliedContraindication(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    title: str
    wording: str
    finding: str
    scope: Scope
    rescreen_on: dt.date | None = Field(
        default=None, description="first date this contraindication lapses, if time-limited"
    )


class MissingItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    field: str
    reason: str


class ScreeningResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    decision: Decision
    region: Region
    on: dt.date
    age: int
    contraindications: list[AppliedContraindication]
    missing: list[MissingItem]
    recommendations: list[str]
    earliest_rescreen: dt.date | None = Field(
        description="when every applying contraindication is time-limited: the day they lapse"
    )
    bone: BoneAssessment | None
    orthosis: OrthosisRecommendation | None
    notes: list[str]


@dataclass(frozen=True)
class Context:
    patient: PatientFindings
    region: Region
    on: dt.date
    settings: ScreeningSettings
    age: int
    bone: BoneAssessment | None
    bone_error: str | None


@dataclass
class Outcome:
    applies: bool = False
    finding: str = ""
    missing: list[MissingItem] = field(default_factory=list)
    rescreen_on: dt.date | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Rule:
    code: str
    title: str
    wording: str  # the seed's English wording (spinemed-decompression.txt)
    reads: tuple[str, ...]
    scope: Scope
    evaluate: Callable[[Context], Outcome]


# --- helpers ---------------------------------------------------------------------------------
def _missing(code: str, fld: str, reason: str) -> Outcome:
    return Outcome(missing=[MissingItem(code=code, field=fld, reason=reason)])


def _days(ctx: Context, d: dt.date) -> int:
    return (ctx.on - d).days


def one_year_after(d: dt.date) -> dt.date:
    """The same calendar date a year later; 29 February ends on 28 February (a period of a year
    ends on the day of the same date, or the month's last day when it has none [bgb188])."""
    try:
        return d.replace(year=d.year + 1)
    except ValueError:
        return dt.date(d.year + 1, 2, 28)


def _period_end(d: dt.date, limit_days: int) -> dt.date:
    """The last day an event on ``d`` still counts as recent: the seed's "within one year" is a
    calendar year (the same date a year later, whatever the leap years); a clinic's longer
    limit in days is counted in days."""
    if limit_days == SEED_COMPRESSION_FRACTURE_DAYS:
        return one_year_after(d)
    return d + dt.timedelta(days=limit_days)


def _span(limit_days: int) -> str:
    return "one year" if limit_days == SEED_COMPRESSION_FRACTURE_DAYS else f"{limit_days} days"


def _within(ctx: Context, d: dt.date, limit_days: int) -> bool:
    return d <= ctx.on <= _period_end(d, limit_days)


def _describe(f: Finding) -> str:
    parts = [f"{f.code} recorded present"]
    if f.region is not None:
        parts.append(f"({f.region.value})")
    if f.date is not None:
        parts.append(f"on {f.date.isoformat()}")
    if f.detail:
        parts.append(f"- {f.detail}")
    return " ".join(parts)


def _answer(ctx: Context, code: str, hit: str | None = None) -> Outcome:
    """The common pattern: a threshold hit or ``present`` applies; ``present`` false clears it;
    no answer is missing. For section-bound rules the finding's region must be known."""
    f = ctx.patient.finding(code)
    rule = RULES_BY_CODE[code]
    if hit is not None:
        if (
            rule.scope is Scope.TREATMENT_SECTION
            and f is not None
            and f.region is not None
            and f.region is not ctx.region
        ):
            return Outcome(notes=[f"{code}: {hit} is in the {f.region.value} spine, not treated"])
        return Outcome(applies=True, finding=hit)
    if f is None or f.present is None:
        return _missing(code, f"findings.{code}", "not recorded")
    if not f.present:
        return Outcome()
    if rule.scope is Scope.TREATMENT_SECTION:
        if f.region is None:
            return _missing(
                code, f"findings.{code}.region", "needed: is it in the treated section?"
            )
        if f.region is not ctx.region:
            return Outcome(notes=[f"{code}: present in the {f.region.value} spine, not treated"])
    return Outcome(applies=True, finding=_describe(f))


def _region_of(ctx: Context, f: Finding | None) -> Region:
    return f.region if f is not None and f.region is not None else ctx.region


# --- rule evaluators -------------------------------------------------------------------------
def _ci01(ctx: Context) -> Outcome:
    for fr in ctx.patient.fractures or ():
        if fr.vertebral and fr.kind is FractureKind.PATHOLOGIC:
            return Outcome(
                applies=True,
                finding=f"pathologic vertebral fracture {fr.level} ({fr.date.isoformat()}): "
                "tumour not excluded",
            )
    return _answer(ctx, "CI-01")


def _ci02(ctx: Context) -> Outcome:
    p = ctx.patient
    f = p.finding("CI-02")
    if p.pregnant or (f is not None and f.present):
        return Outcome(applies=True, finding="pregnant")
    if p.sex is Sex.MALE:
        return Outcome()
    s = ctx.settings
    potential = p.childbearing_potential
    if potential is None:
        potential = s.childbearing_age_min <= ctx.age <= s.childbearing_age_max
    if not potential:
        return Outcome()
    if p.pregnant is None and (f is None or f.present is None):
        return _missing("CI-02", "pregnant", "female patient of child-bearing potential")
    return Outcome()


def _ci03(ctx: Context) -> Outcome:
    s = ctx.settings
    if ctx.age < s.min_age_years:
        b = ctx.patient.birth_date
        lapse = _add_years(b, s.min_age_years)
        return Outcome(
            applies=True,
            finding=f"age {ctx.age} on {ctx.on.isoformat()} (under {s.min_age_years})",
            rescreen_on=lapse,
        )
    return Outcome()


def _add_years(d: dt.date, years: int) -> dt.date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return dt.date(d.year + years, 3, 1)


def _ci04(ctx: Context) -> Outcome:
    s = ctx.settings
    p = ctx.patient
    f = p.finding("CI-04")
    out = Outcome()
    hits: list[str] = []
    bone = ctx.bone
    loss_known = bone is not None and bone.max_bone_loss_percent is not None
    if bone is not None and bone.max_bone_loss_percent is not None:
        worst = max(
            (r for r in bone.sites if r.bone_loss_percent is not None),
            key=lambda r: r.bone_loss_percent or 0.0,
        )
        exact = bone.max_bone_loss_percent_exact
        if (exact if exact is not None else bone.max_bone_loss_percent) > s.max_bone_loss_percent:
            hits.append(
                f"bone loss {worst.bone_loss_percent:.1f}% at {worst.site.value} "
                f"(T {worst.t_score:+.1f}; more than {s.max_bone_loss_percent:g}%)"
            )
    fresh = [
        fr
        for fr in p.fractures or ()
        if fr.vertebral and 0 <= _days(ctx, fr.date) <= s.fresh_vertebral_fracture_days
    ]
    for fr in fresh:
        hits.append(
            f"fresh vertebral fracture {fr.level} {fr.date.isoformat()} "
            f"({_days(ctx, fr.date)} days; fresh = up to {s.fresh_vertebral_fracture_days})"
        )
    if f is not None and f.present:
        hits.append(_describe(f))
    if hits:
        out.applies = True
        out.finding = "; ".join(hits)
        if fresh and len(hits) == len(fresh):  # only fresh fractures: lapses with time
            last = max(fr.date for fr in fresh)
            out.rescreen_on = last + dt.timedelta(days=s.fresh_vertebral_fracture_days + 1)
        return out
    answered = f is not None and f.present is False
    if not loss_known and not answered:
        reason = ctx.bone_error or "no DXA on file and CI-04 not answered by the physician"
        out.missing.append(MissingItem(code="CI-04", field="bmd", reason=reason))
    if p.fractures is None and not answered:
        out.missing.append(
            MissingItem(code="CI-04", field="fractures", reason="fracture history not taken")
        )
    return out


def _ci05(ctx: Context) -> Outcome:
    f = ctx.patient.finding("CI-05")
    lim = ctx.settings.stenosis_canal_ap_mm
    hit = None
    if f is not None and f.canal_ap_diameter_mm is not None and f.canal_ap_diameter_mm < lim:
        hit = f"canal AP diameter {f.canal_ap_diameter_mm:g} mm (< {lim:g} mm: absolute stenosis)"
    return _answer(ctx, "CI-05", hit)


def _ci06(ctx: Context) -> Outcome:
    f = ctx.patient.finding("CI-06")
    s = ctx.settings
    hit = None
    if f is not None:
        lim = (
            s.instability_translation_mm_lumbar
            if _region_of(ctx, f) is Region.LUMBAR
            else s.instability_translation_mm_cervical
        )
        if f.meyerding_grade is not None and f.meyerding_grade >= s.min_meyerding_grade:
            grade = f.meyerding_grade
            hit = f"spondylolisthesis Meyerding grade {grade} (>= {s.min_meyerding_grade})"
        elif f.translation_mm is not None and f.translation_mm > lim:
            hit = f"translation {f.translation_mm:g} mm on flexion-extension (> {lim:g} mm)"
    return _answer(ctx, "CI-06", hit)


def _ci08(ctx: Context) -> Outcome:
    f = ctx.patient.finding("CI-08")
    lim = ctx.settings.severe_scoliosis_cobb_deg
    hit = None
    if f is not None and f.cobb_angle_deg is not None and f.cobb_angle_deg >= lim:
        hit = f"scoliosis Cobb angle {f.cobb_angle_deg:g} deg (>= {lim:g})"
    return _answer(ctx, "CI-08", hit)


def _ci11(ctx: Context) -> Outcome:
    f = ctx.patient.finding("CI-11")
    lim = ctx.settings.recent_surgery_days
    if f is None or f.present is None:
        return _missing("CI-11", "findings.CI-11", "not recorded")
    if not f.present:
        return Outcome()
    if f.date is None:
        return _missing(
            "CI-11", "findings.CI-11.date", "surgery date needed to tell recent from old"
        )
    days = _days(ctx, f.date)
    if days <= lim:
        return Outcome(
            applies=True,
            finding=f"spinal surgery on {f.date.isoformat()} ({days} days; recent = up to {lim})",
            rescreen_on=f.date + dt.timedelta(days=lim + 1),
        )
    return Outcome(notes=[f"CI-11: surgery {days} days ago is not recent (> {lim} days)"])


def _ci12(ctx: Context) -> Outcome:
    p = ctx.patient
    f = p.finding("CI-12")
    lim = ctx.settings.compression_fracture_days
    recent = [
        fr
        for fr in p.fractures or ()
        if fr.vertebral
        and (fr.compression or fr.kind is FractureKind.OSTEOPOROTIC)
        and _within(ctx, fr.date, lim)
    ]
    if recent:
        last = max(fr.date for fr in recent)
        desc = ", ".join(
            f"{fr.level} {fr.date.isoformat()} ({_days(ctx, fr.date)} days)" for fr in recent
        )
        return Outcome(
            applies=True,
            finding=f"vertebral compression fracture within {_span(lim)}: {desc}",
            rescreen_on=_period_end(last, lim) + dt.timedelta(days=1),
        )
    if f is not None and f.present:
        if f.date is None:
            return Outcome(applies=True, finding=_describe(f))
        days = _days(ctx, f.date)
        if _within(ctx, f.date, lim) or days < 0:
            return Outcome(
                applies=True,
                finding=f"compression fracture on {f.date.isoformat()} ({days} days)",
                rescreen_on=_period_end(f.date, lim) + dt.timedelta(days=1),
            )
        return Outcome(notes=[f"CI-12: compression fracture {days} days ago (> {_span(lim)})"])
    if p.fractures is None and (f is None or f.present is None):
        return _missing("CI-12", "fractures", "fracture history not taken")
    return Outcome()


def _flag(code: str) -> Callable[[Context], Outcome]:
    def evaluate(ctx: Context) -> Outcome:
        return _answer(ctx, code)

    return evaluate


_SPINE = ("findings",)
RULES: tuple[Rule, ...] = (
    Rule("CI-01", "Spinal tumour or metastases", "Spinal tumors or metastases",
         ("findings.CI-01", "fractures"), Scope.SPINE, _ci01),
    Rule("CI-02", "Pregnancy", "Pregnancy",
         ("sex", "birth_date", "pregnant", "childbearing_potential", "findings.CI-02"),
         Scope.SPINE, _ci02),
    Rule("CI-03", "Age under 15", "Patients under 15 years of age",
         ("birth_date",), Scope.SPINE, _ci03),
    Rule("CI-04", "Severe osteoporosis",
         "Severe osteoporosis with more than 45% bone loss or with fresh vertebral fractures",
         ("bmd", "fractures", "findings.CI-04"), Scope.SPINE, _ci04),
    Rule("CI-05", "High-grade bony spinal stenosis",
         "High-grade primary bony narrowing of the spinal canal (spinal stenosis)",
         ("findings.CI-05",), Scope.SPINE, _ci05),
    Rule("CI-06", "Severe instability or spondylolisthesis",
         "Severe spinal instabilities/sliding vertebrae",
         ("findings.CI-06",), Scope.SPINE, _ci06),
    Rule("CI-07", "Congenital malformation, spina bifida",
         "Congenital malformations of the spine, spina bifida",
         ("findings.CI-07",), Scope.SPINE, _flag("CI-07")),
    Rule("CI-08", "Severe scoliosis", "Severe scoliosis",
         ("findings.CI-08",), Scope.SPINE, _ci08),
    Rule("CI-09", "Infection or severe inflammation in the treatment section",
         "Infections or severe inflammation in the treatment section",
         ("findings.CI-09",), Scope.TREATMENT_SECTION, _flag("CI-09")),
    Rule("CI-10", "Severe connective tissue disease",
         "Severe connective tissue diseases such as scleroderma",
         ("findings.CI-10",), Scope.SPINE, _flag("CI-10")),
    Rule("CI-11", "Recent spinal surgery", "Fresh preliminary surgery on the spine",
         ("findings.CI-11",), Scope.SPINE, _ci11),
    Rule("CI-12", "Compression fracture within one year",
         "Compression fractures of the spine within one year",
         ("fractures", "findings.CI-12"), Scope.SPINE, _ci12),
    Rule("CI-13", "Implants in the treatment section", "Implants in the treatment section",
         ("findings.CI-13",), Scope.TREATMENT_SECTION, _flag("CI-13")),
)  # fmt: skip
RULES_BY_CODE: dict[str, Rule] = {r.code: r for r in RULES}
BONE_CODES = frozenset({"CI-04", "CI-12"})

_RECOMMEND: dict[str, str] = {
    "CI-01": "Urgent oncological work-up and spine imaging; no traction.",
    "CI-02": "Postpone decompression until after pregnancy; re-screen postpartum.",
    "CI-03": "Refer to paediatric orthopaedics; re-screen from the 15th birthday.",
    "CI-05": "Spine surgical opinion on the stenosis; consider flexion-based physiotherapy.",
    "CI-06": "Spine surgical opinion on the instability; stabilising exercise therapy.",
    "CI-07": "Orthopaedic specialist review of the malformation; no traction.",
    "CI-08": "Scoliosis specialist review; scoliosis-specific physiotherapy.",
    "CI-09": "Treat the infection or inflammation first; re-screen once resolved (lab, imaging).",
    "CI-10": "Rheumatology review of the connective tissue disease.",
    "CI-11": "Wait for the operating surgeon's release; re-screen when the surgery is no longer "
    "recent.",
    "CI-13": "No traction across the implant; discuss with the operating surgeon.",
}
OSTEOPOROSIS_WORKUP = (
    "Osteoporosis work-up per DVO guideline: DXA of lumbar spine and hip if not recent, basic "
    "laboratory, fall-risk assessment, drug therapy decision; calcium 1000-1200 mg/day from food "
    "first and vitamin D 800-1000 IU/day over 50."
)


# --- the screening function ------------------------------------------------------------------
def _validate_dates(p: PatientFindings, on: dt.date) -> None:
    if p.birth_date > on:
        raise InputError(
            "birth_date", f"is after the session date {on.isoformat()}", str(p.birth_date)
        )
    for f in p.findings:
        if f.date is not None and f.date > on:
            raise InputError(f"findings.{f.code}.date", "is after the session date", str(f.date))
    for i, fr in enumerate(p.fractures or ()):
        if fr.date > on:
            raise InputError(f"fractures.{i}.date", "is after the session date", str(fr.date))
    for i, m in enumerate(p.bmd or ()):
        if m.date is not None and m.date > on:
            raise InputError(f"bmd.{i}.date", "is after the session date", str(m.date))


def _bone(p: PatientFindings, age: int) -> tuple[BoneAssessment | None, str | None]:
    if not p.bmd:
        return None, None
    if age < AGE_MIN_YEARS:
        return None, f"adult DXA references start at {AGE_MIN_YEARS}: physician to answer CI-04"
    fragility = any(fr.kind is FractureKind.OSTEOPOROTIC for fr in p.fractures or ())
    try:
        return (
            assess_bone(
                p.bmd,
                sex=p.sex,
                age=age,
                premenopausal=p.premenopausal,
                fragility_fracture=fragility,
                weight_kg=p.weight_kg,
            ),
            None,
        )
    except InputError as exc:
        return None, f"BMD not usable: {exc}"


def _thresholds(settings: ScreeningSettings | None) -> ScreeningSettings:
    """The clinic's thresholds validated again here, where they decide: ``model_copy(update=)``
    and ``model_construct`` skip the validators, and a seed limit loosened that way must not
    screen a patient, whichever caller built the settings (fail closed, naming the field)."""
    if settings is None:
        return ScreeningSettings()
    try:
        return ScreeningSettings.model_validate(settings.model_dump())
    except ValidationError as exc:
        raise InputError("clinic.screening", describe_validation_error(exc)) from None


def screen(
    patient: PatientFindings,
    region: Region | str,
    on: dt.date,
    settings: ScreeningSettings | None = None,
) -> ScreeningResult:
    """Screen ``patient`` for decompression of ``region`` with the first session on ``on``."""
    s = _thresholds(settings)
    reg = Region(region)
    _validate_dates(patient, on)
    age = patient.age_on(on)
    bone, bone_error = _bone(patient, age)
    ctx = Context(patient, reg, on, s, age, bone, bone_error)
    applied: list[AppliedContraindication] = []
    missing: list[MissingItem] = []
    notes: list[str] = []
    for rule in RULES:
        out = rule.evaluate(ctx)
        notes += out.notes
        missing += out.missing
        if out.applies:
            applied.append(
                AppliedContraindication(
                    code=rule.code,
                    title=rule.title,
                    wording=rule.wording,
                    finding=out.finding,
                    scope=rule.scope,
                    rescreen_on=out.rescreen_on,
                )
            )
    if applied:
        decision = Decision.NOT_ELIGIBLE
    elif missing:
        decision = Decision.INCOMPLETE
    else:
        decision = Decision.ELIGIBLE
    osteoporotic = bone is not None and bone.who_class in (
        BoneClass.OSTEOPOROSIS,
        BoneClass.SEVERE_OSTEOPOROSIS,
    )
    codes = {a.code for a in applied}
    orthosis: OrthosisRecommendation | None = None
    recs: list[str] = []
    if codes & BONE_CODES:
        orthosis = orthosis_recommendation(patient.fractures, osteoporosis=osteoporotic)
        recs.append(
            "Orthosis pathway: an activating thoraco-lumbar orthosis (Spinomed-type) for low-pain "
            "mobilisation, as the DVO guideline suggests for osteoporotic vertebral fractures "
            "(see the evidence, including a trial without benefit)."
        )
        recs.append(OSTEOPOROSIS_WORKUP)
    for a in applied:
        if a.code in _RECOMMEND:
            recs.append(_RECOMMEND[a.code])
    rescreens = [a.rescreen_on for a in applied]
    earliest = None
    if applied and all(r is not None for r in rescreens):
        earliest = max(r for r in rescreens if r is not None)
        recs.append(f"Re-screen on or after {earliest.isoformat()}.")
    if missing:
        items = ", ".join(sorted({f"{m.code} ({m.field})" for m in missing}))
        recs.append(f"Complete the missing findings before the first session: {items}.")
    if decision is Decision.ELIGIBLE:
        recs.append(
            "Plan a course of 15-20 sessions (45-minute slots, 30 minutes traction) and review "
            "the pain response after 6-8 sessions."
        )
        if osteoporotic:
            recs.append(
                "Osteoporosis below the exclusion threshold: physician to confirm traction force; "
                + OSTEOPOROSIS_WORKUP
            )
    if bone is not None:
        notes += bone.notes
    return ScreeningResult(
        decision=decision,
        region=reg,
        on=on,
        age=age,
        contraindications=applied,
        missing=missing,
        recommendations=recs,
        earliest_rescreen=earliest,
        bone=bone,
        orthosis=orthosis,
        notes=notes,
    )


def load_patient(data: object) -> PatientFindings:
    """Validate a decoded JSON object (raises pydantic ValidationError with the field)."""
    return PatientFindings.model_validate(data)
