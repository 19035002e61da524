"""Who may open what: the role sets of ``services.auth`` as route dependencies."""

from __future__ import annotations

from spinecare.services.auth import (
    BILLING_ROLES,
    CLINICAL_WRITERS,
    PHYSICIAN_ROLES,
    READERS,
    USER_ADMINS,
)
from spinecare.web.deps import allow

READ = allow(READERS, "read clinical data")
WRITE = allow(CLINICAL_WRITERS, "change clinical data")
DECIDE = allow(PHYSICIAN_ROLES, "make a medical decision")
BILL = allow(BILLING_ROLES, "bill")
ADMIN = allow(USER_ADMINS, "manage users")

__all__ = [
    "ADMIN",
    "BILL",
    "BILLING_ROLES",
    "CLINICAL_WRITERS",
    "DECIDE",
    "PHYSICIAN_ROLES",
    "READ",
    "READERS",
    "USER_ADMINS",
    "WRITE",
]
