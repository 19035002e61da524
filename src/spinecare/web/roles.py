"""Who may open what: the role sets of ``services.auth`` (and the billing set, which moves from
the invoices service to ``services.auth``), as route dependencies."""

from __future__ import annotations

import importlib
from typing import Any

from spinecare.services.auth import CLINICAL_WRITERS, PHYSICIAN_ROLES, READERS, USER_ADMINS
from spinecare.store.enums import Role
from spinecare.web.deps import allow

_auth: Any = importlib.import_module("spinecare.services.auth")
_invoices: Any = importlib.import_module("spinecare.services.invoices")
BILLING_ROLES: frozenset[Role] = frozenset(
    getattr(_auth, "BILLING_ROLES", None) or _invoices.BILLING_ROLES
)

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
