"""Who is acting, and what each role may do.

Small functions rather than a framework so the web app can use them as dependencies
(``Depends(...)``) and the CLI can call them directly. Each check returns the actor.
"""

from __future__ import annotations

from dataclasses import dataclass

from spinecare.services.errors import PermissionDeniedError
from spinecare.store.enums import Role


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated (web) or named (CLI ``--as``) user a change is attributed to."""

    id: int
    username: str
    role: Role


# Clinical data (patients, findings, sessions, outcomes): the treating team. Billing staff read
# clinical data for invoices but never change it.
CLINICAL_WRITERS = frozenset({Role.PHYSICIAN, Role.THERAPIST, Role.ADMIN})
# Medical decisions: screening decisions, diagnoses, prescribing a course, deleting a patient.
PHYSICIAN_ROLES = frozenset({Role.PHYSICIAN, Role.ADMIN})
# User accounts: admins, and physicians (in a small practice the owner is the physician and may
# be the only one who can set up accounts).
USER_ADMINS = frozenset({Role.ADMIN, Role.PHYSICIAN})
READERS = frozenset(Role)


def require_role(actor: Actor, allowed: frozenset[Role], action: str) -> Actor:
    if actor.role not in allowed:
        raise PermissionDeniedError(actor.username, actor.role.value, action)
    return actor


def require_reader(actor: Actor) -> Actor:
    return require_role(actor, READERS, "read clinical data")


def require_clinical_writer(actor: Actor) -> Actor:
    return require_role(actor, CLINICAL_WRITERS, "change clinical data")


def require_physician(actor: Actor, action: str = "make a medical decision") -> Actor:
    return require_role(actor, PHYSICIAN_ROLES, action)


def require_admin(actor: Actor) -> Actor:
    return require_role(actor, USER_ADMINS, "manage users")
