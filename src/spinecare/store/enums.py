"""Closed vocabularies stored as short strings (checked by CHECK constraints in the schema)."""

from __future__ import annotations

import enum

# The clinical vocabularies are declared once, in the clinical layer; the schema stores their
# values. Re-exported here so the models name every stored vocabulary from one module.
from spinecare.clinical.vocab import BmdSite as BmdSite
from spinecare.clinical.vocab import FractureKind as FractureKind
from spinecare.clinical.vocab import Menopause as Menopause
from spinecare.clinical.vocab import Sex as Sex


class Insurance(enum.StrEnum):
    STATUTORY = "statutory"
    PRIVATE = "private"
    SELF_PAYER = "self_payer"


class Role(enum.StrEnum):
    PHYSICIAN = "physician"
    THERAPIST = "therapist"
    BILLING = "billing"
    ADMIN = "admin"


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
    # The patient did not come; not run, not invoiceable (migration 0006).
    NO_SHOW = "no_show"


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
