"""Closed vocabularies stored as short strings (checked by CHECK constraints in the schema)."""

from __future__ import annotations

import enum


class Sex(enum.StrEnum):
    """F/M as the bone references and screening rules need them (clinical/findings.py)."""

    FEMALE = "F"
    MALE = "M"


class Menopause(enum.StrEnum):
    PRE = "pre"
    PERI = "peri"
    POST = "post"


class Insurance(enum.StrEnum):
    STATUTORY = "statutory"
    PRIVATE = "private"
    SELF_PAYER = "self_payer"


class Role(enum.StrEnum):
    PHYSICIAN = "physician"
    THERAPIST = "therapist"
    BILLING = "billing"
    ADMIN = "admin"


class BmdSite(enum.StrEnum):
    """DXA sites the WHO/ISCD classification uses (DESIGN.md 4; 33% radius only as fallback)."""

    LUMBAR_SPINE = "lumbar_spine"  # L1-L4
    FEMORAL_NECK = "femoral_neck"
    TOTAL_HIP = "total_hip"
    RADIUS_33 = "radius_33"


class FractureKind(enum.StrEnum):
    """As clinical/findings.py names them."""

    OSTEOPOROTIC = "osteoporotic"  # fragility fracture, low-energy trauma
    TRAUMATIC = "traumatic"
    PATHOLOGIC = "pathologic"  # through a lesion (tumour)


class CourseStatus(enum.StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class SessionStatus(enum.StrEnum):
    PLANNED = "planned"
    # Recorded before the table's first tick, so a session killed mid-run leaves a trace; the
    # next start closes it as aborted with the telemetry it has (services/sessions.py).
    RUNNING = "running"
    DONE = "done"
    ABORTED = "aborted"
    CANCELLED = "cancelled"


class OutcomeKind(enum.StrEnum):
    NRS_BEFORE = "nrs_before"
    NRS_AFTER = "nrs_after"
    ODI = "odi"


class AuditAction(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"  # soft delete (deleted_at set) or a hard delete of a dependent row
    SCREEN = "screen"  # a screening decision (no row of its own)


def sql_in(enum_cls: type[enum.StrEnum]) -> str:
    """``'a', 'b', 'c'`` for a CHECK constraint."""
    return ", ".join(f"'{m.value}'" for m in enum_cls)
