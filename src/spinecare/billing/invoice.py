"""Invoices as immutable domain objects with a small state machine.

draft -> issued -> paid, or -> cancelled; ``invoice_transition`` is the one table of what is
allowed, and the services only ask it. A draft may be edited; an issued invoice never is: it
is cancelled by a credit note (negative amounts) that refers to it, and a corrected invoice is
drafted anew. Numbers are assigned at issue time from a gapless per-year sequence the caller
supplies (the persistence layer guarantees gaplessness under concurrency).

The printed contents follow §12(2) GOÄ: date of each service, item number and description
(including a minimum duration where the item names one), factor and amount; §12(3): a written
justification above the threshold; §12(4): "analog" and the equivalent item for analog
services. The date of a service is the day it was rendered (§12(2) Nr. 1), so only a session
that ran is billed. The diagnosis (ICD-10) is printed unless the patient asked to keep it off.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from spinecare.billing.catalogue import Catalogue, default_catalogue
from spinecare.billing.quote import QuoteLine, price_session
from spinecare.billing.scales import STANDARD_SCALE, FeeScale
from spinecare.errors import InputError


class InvoiceStatus(enum.StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    PAID = "paid"
    CANCELLED = "cancelled"


# Why a discarded draft (cancelled before it had a number) is never printed: it was never sent,
# and a PDF of it, marked or not, could pass for a bill. Said by the service and the report.
DISCARDED_DRAFT = "a discarded draft is no invoice: nothing to print (draft a new one to bill)"


class InvoiceKind(enum.StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class InvoiceStateError(InputError):
    """A transition the state machine does not allow (e.g. editing an issued invoice)."""

    def __init__(self, reason: str, value: object = None) -> None:
        super().__init__("invoice", reason, value)


class InvoiceAction(enum.StrEnum):
    """What a user can do to an invoice; each is allowed from some states only."""

    EDIT = "edit"  # change a draft's lines, recipient, diagnosis or notes
    ISSUE = "issue"  # freeze a draft under the next number
    PAY = "pay"  # record the payment of an issued invoice
    CANCEL = "cancel"  # reverse an issued or paid invoice by a credit note
    DISCARD = "discard"  # drop a draft, which never had a number


# The whole state machine, one table. An issued invoice is never edited; it is cancelled by a
# credit note, and a corrected invoice is drafted anew (§12 GOÄ needs the issued contents to stay
# as the patient received them). A credit note is never marked paid (the states track what the
# patient owes, not refunds) and never cancelled itself.
_INVOICE_TRANSITIONS: Mapping[tuple[InvoiceStatus, InvoiceAction], InvoiceStatus] = {
    (InvoiceStatus.DRAFT, InvoiceAction.EDIT): InvoiceStatus.DRAFT,
    (InvoiceStatus.DRAFT, InvoiceAction.ISSUE): InvoiceStatus.ISSUED,
    (InvoiceStatus.DRAFT, InvoiceAction.DISCARD): InvoiceStatus.CANCELLED,
    (InvoiceStatus.ISSUED, InvoiceAction.PAY): InvoiceStatus.PAID,
    (InvoiceStatus.ISSUED, InvoiceAction.CANCEL): InvoiceStatus.CANCELLED,
    (InvoiceStatus.PAID, InvoiceAction.CANCEL): InvoiceStatus.CANCELLED,
}
_CREDIT_NOTE_ACTIONS = frozenset({InvoiceAction.EDIT, InvoiceAction.ISSUE, InvoiceAction.DISCARD})
TRANSITIONS: Mapping[InvoiceKind, Mapping[tuple[InvoiceStatus, InvoiceAction], InvoiceStatus]] = {
    InvoiceKind.INVOICE: _INVOICE_TRANSITIONS,
    InvoiceKind.CREDIT_NOTE: {
        k: v for k, v in _INVOICE_TRANSITIONS.items() if k[1] in _CREDIT_NOTE_ACTIONS
    },
}
# States in which an invoice's sessions count as billed (a cancelled invoice frees them).
LIVE_STATUSES: frozenset[InvoiceStatus] = frozenset(
    {InvoiceStatus.DRAFT, InvoiceStatus.ISSUED, InvoiceStatus.PAID}
)


def _refusal(status: InvoiceStatus, action: InvoiceAction, kind: InvoiceKind) -> str:
    """Why ``action`` is not allowed, phrased as what the user can do instead."""
    if kind is InvoiceKind.CREDIT_NOTE and action is InvoiceAction.CANCEL:
        return "a credit note cannot itself be cancelled"
    if kind is InvoiceKind.CREDIT_NOTE and action is InvoiceAction.PAY:
        return "a credit note is not marked paid: the states track what the patient owes"
    return {
        InvoiceAction.EDIT: (
            f"the invoice is {status.value}: an issued invoice is never edited; cancel it with "
            "a credit note and draft a new one"
        ),
        InvoiceAction.ISSUE: f"only a draft can be issued (this one is {status.value})",
        InvoiceAction.PAY: (
            f"only an issued invoice can be marked paid (this one is {status.value})"
        ),
        InvoiceAction.CANCEL: (
            f"only an issued or paid invoice is cancelled by a credit note "
            f"(this one is {status.value}; a draft is simply discarded)"
        ),
        InvoiceAction.DISCARD: (
            f"only a draft can be discarded (this one is {status.value}); cancel an issued "
            "invoice instead"
        ),
    }[action]


def parse_status(value: InvoiceStatus | str) -> InvoiceStatus:
    """A status from a form or a row, refused with the allowed values when unknown."""
    try:
        return InvoiceStatus(value)
    except ValueError:
        allowed = " | ".join(s.value for s in InvoiceStatus)
        raise InputError("status", allowed, value) from None


def invoice_transition(
    current: InvoiceStatus | str,
    action: InvoiceAction | str,
    kind: InvoiceKind | str = InvoiceKind.INVOICE,
) -> InvoiceStatus:
    """The status after ``action``, or InvoiceStateError (an InputError, field ``invoice``)
    saying why the action is not allowed from ``current``. The only place that decides."""
    status = parse_status(current)
    try:
        act = InvoiceAction(action)
    except ValueError:
        allowed = ", ".join(a.value for a in InvoiceAction)
        raise InputError("action", f"one of {allowed}", action) from None
    knd = InvoiceKind(kind)
    new = TRANSITIONS[knd].get((status, act))
    if new is None:
        raise InvoiceStateError(_refusal(status, act, knd))
    return new


def cancel_action(current: InvoiceStatus | str) -> InvoiceAction:
    """How a user's "cancel" is carried out: a draft is discarded, anything with a number needs
    a credit note (numbers are gapless, so a numbered invoice is reversed, never dropped)."""
    return (
        InvoiceAction.DISCARD
        if parse_status(current) is InvoiceStatus.DRAFT
        else (InvoiceAction.CANCEL)
    )


# ICD-10-GM code: letter, two digits, optional dot and up to two more characters (e.g. M51.2,
# M54.5, M48.06); trailing certainty marks (G, V, Z, A) as used in Germany are allowed.
_ICD10 = re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,2})?[+*!]?( ?[GVZA])?$")
# Invoice numbers: year and a gapless per-year sequence, e.g. 2025-00042.
_NUMBER = re.compile(r"^(\d{4})-(\d{5,})$")


@dataclass(frozen=True, slots=True)
class Diagnosis:
    icd10: str
    text: str = ""

    def __post_init__(self) -> None:
        code = self.icd10.strip().upper()
        if not _ICD10.match(code):
            raise InputError("diagnosis", "not an ICD-10 code such as M51.2", self.icd10)
        object.__setattr__(self, "icd10", code)


@dataclass(frozen=True, slots=True)
class Recipient:
    """The person liable to pay (usually the patient)."""

    name: str
    address: tuple[str, ...] = ()
    patient_ref: str | None = None
    birth_date: date | None = None
    # The private insurer and the patient's number there (helps the insurer match the bill).
    insurer: str | None = None
    insurance_number: str | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InputError("recipient.name", "must not be empty")


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """One fee as §12(2) GOÄ wants it on paper."""

    service_date: date
    number: str
    analog_of: str | None
    description: str
    points: int
    factor: Decimal
    amount: Decimal
    justification: str | None = None
    min_duration: str | None = None
    # For analog lines: "analog Nr. 652 GOÄ: <equivalent item>" (§12(4) GOÄ).
    equivalent: str | None = None

    @property
    def full_description(self) -> str:
        return (
            self.description
            if self.equivalent is None
            else f"{self.description} – {self.equivalent}"
        )

    @property
    def label(self) -> str:
        return f"{self.number} analog" if self.analog_of else self.number

    def negated(self) -> InvoiceLine:
        return replace(self, amount=-self.amount)


@dataclass(frozen=True, slots=True)
class Invoice:
    recipient: Recipient
    lines: tuple[InvoiceLine, ...]
    scale: str
    kind: InvoiceKind = InvoiceKind.INVOICE
    status: InvoiceStatus = InvoiceStatus.DRAFT
    diagnosis: Diagnosis | None = None
    number: str | None = None
    issued_on: date | None = None
    paid_on: date | None = None
    cancelled_on: date | None = None
    refers_to: str | None = None
    cancelled_by: str | None = None
    notes: tuple[str, ...] = field(default=())
    # The language the line texts were drafted in.
    lang: str = "de"

    @property
    def total(self) -> Decimal:
        return sum((ln.amount for ln in self.lines), Decimal("0.00"))

    @property
    def service_period(self) -> tuple[date, date] | None:
        if not self.lines:
            return None
        days = [ln.service_date for ln in self.lines]
        return min(days), max(days)

    @property
    def is_credit_note(self) -> bool:
        return self.kind is InvoiceKind.CREDIT_NOTE


def format_invoice_number(year: int, sequence: int) -> str:
    if not (1900 <= year <= 9999) or sequence < 1:
        raise InputError("invoice number", "year 1900-9999 and a sequence from 1", (year, sequence))
    return f"{year}-{sequence:05d}"


def parse_invoice_number(number: str) -> tuple[int, int]:
    m = _NUMBER.match(number.strip())
    if not m:
        raise InputError("invoice number", "expected YYYY-NNNNN", number)
    return int(m.group(1)), int(m.group(2))


def line_from_quote(q: QuoteLine, service_date: date, lang: str = "de") -> InvoiceLine:
    item = q.service.item
    return InvoiceLine(
        service_date=service_date,
        number=q.number,
        analog_of=q.analog_of,
        description=q.service.own_text(lang),
        points=q.points,
        factor=q.factor,
        amount=q.amount,
        justification=q.justification,
        min_duration=item.min_duration_en if lang == "en" else item.min_duration,
        equivalent=q.service.equivalent(lang),
    )


@dataclass(frozen=True, slots=True)
class SessionService:
    """One treatment session to bill: its date and region."""

    on: date
    region: str


def session_lines(
    sessions: Iterable[SessionService],
    scale: FeeScale = STANDARD_SCALE,
    *,
    catalogue: Catalogue | None = None,
    factors: Mapping[str, object] | None = None,
    justifications: Mapping[str, str] | None = None,
    lang: str = "de",
) -> tuple[InvoiceLine, ...]:
    """Invoice lines for each session, in date order."""
    cat = catalogue or default_catalogue()
    out: list[InvoiceLine] = []
    for s in sorted(sessions, key=lambda x: x.on):
        priced = price_session(
            s.region, scale, catalogue=cat, factors=factors, justifications=justifications
        )
        out.extend(line_from_quote(q, s.on, lang) for q in priced)
    return tuple(out)


def draft_invoice(
    recipient: Recipient,
    sessions: Sequence[SessionService],
    scale: FeeScale = STANDARD_SCALE,
    *,
    catalogue: Catalogue | None = None,
    diagnosis: Diagnosis | None = None,
    diagnosis_consent: bool = False,
    factors: Mapping[str, object] | None = None,
    justifications: Mapping[str, str] | None = None,
    lang: str = "de",
) -> Invoice:
    """A draft for one session or a course; the diagnosis is kept only with consent."""
    if not sessions:
        raise InputError("sessions", "an invoice needs at least one session")
    lines = session_lines(
        sessions,
        scale,
        catalogue=catalogue,
        factors=factors,
        justifications=justifications,
        lang=lang,
    )
    return Invoice(
        recipient=recipient,
        lines=lines,
        scale=scale.name,
        diagnosis=diagnosis if diagnosis_consent else None,
    )


def edit(invoice: Invoice, **changes: object) -> Invoice:
    """Change a draft (lines, recipient, diagnosis, notes). Issued invoices are never edited."""
    invoice_transition(invoice.status, InvoiceAction.EDIT, invoice.kind)
    allowed = {"lines", "recipient", "diagnosis", "notes", "scale"}
    bad = set(changes) - allowed
    if bad:
        raise InputError("invoice", f"cannot change {', '.join(sorted(bad))}")
    return replace(invoice, **changes)  # type: ignore[arg-type]


def issue(invoice: Invoice, number: str, on: date) -> Invoice:
    """Freeze a draft under ``number`` (the next in the gapless sequence for ``on.year``)."""
    status = invoice_transition(invoice.status, InvoiceAction.ISSUE, invoice.kind)
    if not invoice.lines:
        raise InvoiceStateError("an invoice without lines cannot be issued")
    year, _ = parse_invoice_number(number)
    if year != on.year:
        raise InputError(
            "invoice number", f"year must match the issue date {on.isoformat()}", number
        )
    return replace(invoice, status=status, number=number, issued_on=on)


def mark_paid(invoice: Invoice, on: date) -> Invoice:
    """Record the payment of an issued invoice on ``on`` (not before it was issued)."""
    status = invoice_transition(invoice.status, InvoiceAction.PAY, invoice.kind)
    assert invoice.issued_on is not None
    if on < invoice.issued_on:
        raise InputError("paid_on", "before the issue date", on.isoformat())
    return replace(invoice, status=status, paid_on=on)


def credit_note(original: Invoice) -> Invoice:
    """A draft credit note that reverses every line of ``original`` (negative amounts)."""
    invoice_transition(original.status, InvoiceAction.CANCEL, original.kind)
    return Invoice(
        recipient=original.recipient,
        lines=tuple(ln.negated() for ln in original.lines),
        scale=original.scale,
        kind=InvoiceKind.CREDIT_NOTE,
        diagnosis=original.diagnosis,
        refers_to=original.number,
    )


def cancel(original: Invoice, credit_number: str, on: date) -> tuple[Invoice, Invoice]:
    """Cancel an issued (or paid) invoice: returns (the cancelled original, the issued credit
    note). The original's lines stay as they were; only its status and reference change."""
    status = invoice_transition(original.status, InvoiceAction.CANCEL, original.kind)
    note = issue(credit_note(original), credit_number, on)
    cancelled = replace(original, status=status, cancelled_on=on, cancelled_by=credit_number)
    return cancelled, note


def discard(draft: Invoice) -> Invoice:
    """Drop a draft (it never had a number, so no credit note is needed)."""
    return replace(
        draft, status=invoice_transition(draft.status, InvoiceAction.DISCARD, draft.kind)
    )
