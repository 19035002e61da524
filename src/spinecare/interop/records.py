"""Plain records the open-data converters read and write (no database, no files).

``services/export.py`` fills them from the store; the converters in this package turn them into
FHIR R4B, CSV and JSON and back. Values keep the store's precision (``Decimal`` where the store
keeps what was entered), so a record survives a round trip through a FHIR bundle unchanged.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from spinecare.clinical.vocab import BmdSite, Sex
from spinecare.runtime.summary import SessionSummary
from spinecare.vocab import Region


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PatientData(_Record):
    id: int
    name: str
    birth_date: date
    sex: Sex


class DiagnosisData(_Record):
    id: int
    icd10: str
    text: str
    diagnosed_on: date


class BmdData(_Record):
    """One DXA site on one day, as the report printed it (BMD and/or T-score, Z-score)."""

    id: int | None = None  # None: not stored yet (an import)
    measured_on: date
    site: BmdSite
    bmd_g_cm2: Decimal | None = None
    t_score: Decimal | None = None
    z_score: Decimal | None = None
    device: str | None = None
    manufacturer: str | None = None
    valid: bool = True


class OutcomeData(_Record):
    """Pain NRS before/after a session, or an Oswestry Disability Index (percent)."""

    id: int
    kind: str  # "nrs_before" | "nrs_after" | "odi"
    value: Decimal
    recorded_at: datetime
    course_id: int | None = None
    session_number: int | None = None


class SessionData(_Record):
    """One decompression session that ran (or was stopped), with its typed summary."""

    id: int
    course_id: int
    number: int
    status: str  # the store's session status: done, aborted, running
    scheduled_start: datetime
    region: Region
    segment: str
    summary: SessionSummary | None = None


class PatientRecord(_Record):
    """Everything of one patient that the FHIR bundle carries."""

    patient: PatientData
    diagnoses: list[DiagnosisData] = Field(default_factory=list)
    bmd: list[BmdData] = Field(default_factory=list)
    outcomes: list[OutcomeData] = Field(default_factory=list)
    sessions: list[SessionData] = Field(default_factory=list)
