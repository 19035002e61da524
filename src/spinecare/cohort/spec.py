"""What a cohort run is: the protocol, how many patients and sessions, the seed, the faults.

A ``CohortSpec`` is stored with the run's results (``cohort.json``), so an interrupted run
resumes only with the same spec, and ``cohort compare`` can check that two runs met the same
virtual patients. The protocol is a template: ``lumbar-default`` and ``cervical-default`` give
every patient the weight-adapted default protocol of their first session; a protocol file is
validated like any protocol and then scaled to each patient's body weight (its forces as
fractions of the file's body weight). Between sessions the course progression applies.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from spinecare.clinical.dosing import round_down_force
from spinecare.cohort.faults import CohortFault
from spinecare.errors import InputError, describe_validation_error
from spinecare.services.courses import progress_protocol
from spinecare.services.sessions import protocol_checked
from spinecare.therapy.protocol import Protocol, default_protocol
from spinecare.vocab import SEGMENTS, Region

DEFAULT_PROTOCOLS = ("lumbar-default", "cervical-default")
# Seeds are non-negative integers numpy's SeedSequence accepts; bounded like every --seed.
SEED_MAX = 2**63 - 1
# Patients per chunk: a chunk is one task (Dask) and one file on disk. 25 patients of 30-minute
# sessions are tens of seconds of work, so per-task scheduling (about 1 ms) stays far below 5%.
DEFAULT_CHUNK = 25
SPEC_VERSION = 1


class CohortSpec(BaseModel):
    """Everything that decides a cohort's figures (and nothing that does not: no worker count)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = SPEC_VERSION
    protocol_name: str
    template: dict[str, Any] | None = None  # a protocol file's content; None for the defaults
    patients: int = Field(ge=1, le=10_000_000)
    sessions: int = Field(ge=1, le=40)
    seed: int = Field(ge=0, le=SEED_MAX)
    minutes: float | None = Field(default=None, ge=1.0, le=60.0)
    faults: tuple[CohortFault, ...] = ()
    emg: bool = False
    chunk_size: int = Field(default=DEFAULT_CHUNK, ge=1, le=10_000)

    @field_validator("faults")
    @classmethod
    def _distinct(cls, v: tuple[CohortFault, ...]) -> tuple[CohortFault, ...]:
        return tuple(dict.fromkeys(v))

    @property
    def region(self) -> Region:
        if self.template is not None:
            return Region(self.template["region"])
        return Region.LUMBAR if self.protocol_name == "lumbar-default" else Region.CERVICAL

    @property
    def chunks(self) -> int:
        return math.ceil(self.patients / self.chunk_size)

    def chunk_range(self, index: int) -> range:
        start = index * self.chunk_size
        return range(start, min(self.patients, start + self.chunk_size))

    def figures_key(self) -> dict[str, Any]:
        """What must match for two runs to be the same run (resume) or to pair (compare)."""
        return self.model_dump(mode="json")


def protocol_load(name: str) -> tuple[str, dict[str, Any] | None]:
    """``lumbar-default``, ``cervical-default`` or a protocol file (JSON), validated."""
    if name in DEFAULT_PROTOCOLS:
        return name, None
    path = Path(name)
    if not path.is_file():
        raise InputError(
            "protocol", "must be lumbar-default, cervical-default or a protocol file", name
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InputError(
            "protocol", f"cannot be read as JSON ({type(exc).__name__})", name
        ) from None
    if not isinstance(data, dict):
        raise InputError("protocol", "must be a JSON object", name)
    try:
        proto = Protocol.model_validate(data)
    except ValidationError as exc:
        raise InputError("protocol", describe_validation_error(exc), name) from None
    return path.stem, protocol_checked(proto).model_dump(mode="json")


def first_protocol(spec: CohortSpec, weight_kg: float, segment: str) -> Protocol:
    """A patient's first session: the default for their weight, or the file scaled to it."""
    tpl = spec.template
    if tpl is None:
        kwargs: dict[str, Any] = {}
        if spec.minutes is not None:
            kwargs["traction_minutes"] = spec.minutes
        return default_protocol(spec.region, weight_kg, segment, **kwargs)
    ratio = weight_kg / float(tpl["body_weight_kg"])
    data = dict(tpl)
    data.update(
        body_weight_kg=weight_kg,
        peak_force_n=round_down_force(float(tpl["peak_force_n"]) * ratio),
        base_force_n=round_down_force(float(tpl["base_force_n"]) * ratio),
        oscillation_amplitude_n=round_down_force(float(tpl["oscillation_amplitude_n"]) * ratio),
        session_number=1,
    )
    if spec.minutes is not None:
        data["traction_minutes"] = spec.minutes
    try:
        return Protocol.model_validate(data)
    except ValidationError as exc:
        raise InputError("protocol", describe_validation_error(exc), spec.protocol_name) from None


def next_protocol(previous: Protocol, tolerated: bool) -> Protocol:
    """The course progression (services/courses.py): one step up after a tolerated session."""
    return progress_protocol(previous, tolerated)


def segment_of(spec: CohortSpec, u: float) -> str:
    """The target segment: the file's, or drawn evenly over the region's segments (assumption:
    no published distribution of treated levels was found)."""
    if spec.template is not None:
        return str(spec.template["segment"])
    segs = SEGMENTS[spec.region]
    return segs[min(len(segs) - 1, int(u * len(segs)))]
