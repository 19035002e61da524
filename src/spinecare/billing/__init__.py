"""GOÄ fees and invoices (pure: no I/O besides reading the packaged catalogue, no clock).

- :mod:`catalogue` items, fee ranges and the clinic's analog services (``goae_catalogue.json``);
- :mod:`fees` points x point value x factor, rounded half-up per item (§5(1) GOÄ);
- :mod:`scales` standard and self-payer fee scales;
- :mod:`quote` the price of a session or a course;
- :mod:`invoice` invoices, credit notes and their states.
"""

from spinecare.billing.catalogue import (
    Catalogue,
    ClinicService,
    FeeRange,
    GoaeItem,
    default_catalogue,
)
from spinecare.billing.fees import check_factor, fee, parse_factor, round_cent
from spinecare.billing.invoice import (
    DISCARDED_DRAFT,
    LIVE_STATUSES,
    Diagnosis,
    Invoice,
    InvoiceAction,
    InvoiceKind,
    InvoiceLine,
    InvoiceStateError,
    InvoiceStatus,
    Recipient,
    SessionService,
    cancel,
    cancel_action,
    credit_note,
    discard,
    draft_invoice,
    edit,
    format_invoice_number,
    invoice_transition,
    issue,
    mark_paid,
    parse_status,
)
from spinecare.billing.quote import Quote, QuoteLine, price_session, quote
from spinecare.billing.scales import (
    DEFAULT_SCALES,
    SELF_PAYER_SCALE,
    STANDARD_SCALE,
    FeeScale,
    Insurance,
    scale_for,
)

__all__ = [
    "DEFAULT_SCALES",
    "DISCARDED_DRAFT",
    "LIVE_STATUSES",
    "SELF_PAYER_SCALE",
    "STANDARD_SCALE",
    "Catalogue",
    "ClinicService",
    "Diagnosis",
    "FeeRange",
    "FeeScale",
    "GoaeItem",
    "Insurance",
    "Invoice",
    "InvoiceAction",
    "InvoiceKind",
    "InvoiceLine",
    "InvoiceStateError",
    "InvoiceStatus",
    "Quote",
    "QuoteLine",
    "Recipient",
    "SessionService",
    "cancel",
    "cancel_action",
    "check_factor",
    "credit_note",
    "default_catalogue",
    "discard",
    "draft_invoice",
    "edit",
    "fee",
    "format_invoice_number",
    "invoice_transition",
    "issue",
    "mark_paid",
    "parse_factor",
    "parse_status",
    "price_session",
    "quote",
    "round_cent",
    "scale_for",
]
