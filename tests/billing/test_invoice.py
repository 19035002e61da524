"""Invoice contents (§12 GOÄ) and the state machine: drafts change, issued invoices never do."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import pytest

from spinecare.billing import (
    LIVE_STATUSES,
    SELF_PAYER_SCALE,
    Diagnosis,
    Insurance,
    InvoiceAction,
    InvoiceKind,
    InvoiceStateError,
    InvoiceStatus,
    Recipient,
    SessionService,
    cancel,
    cancel_action,
    draft_invoice,
    edit,
    format_invoice_number,
    invoice_transition,
    issue,
    mark_paid,
    scale_for,
)
from spinecare.billing.invoice import discard, parse_invoice_number
from spinecare.errors import InputError

PATIENT = Recipient("Erika Mustermann", ("Hauptstr. 1", "80331 München"), patient_ref="P-17")
DAYS = [date(2025, 3, d) for d in (3, 5, 7)]


def _course(region: str = "lumbar") -> list[SessionService]:
    return [SessionService(d, region) for d in DAYS]


def test_course_invoice_has_a_dated_line_per_service() -> None:
    inv = draft_invoice(PATIENT, _course())
    assert inv.status is InvoiceStatus.DRAFT and inv.number is None
    assert len(inv.lines) == 9
    assert [ln.service_date for ln in inv.lines[:3]] == [DAYS[0]] * 3
    assert inv.total == Decimal("212.04")  # 3 x 70.68
    analog = [ln for ln in inv.lines if ln.analog_of]
    assert {ln.label for ln in analog} == {"516 analog", "652 analog"}
    decompression = next(ln for ln in inv.lines if ln.number == "652")
    assert "analog Nr. 652 GOÄ" in decompression.full_description
    assert "Elektrokardiographische" in decompression.full_description  # the equivalent item's text
    assert decompression.factor == Decimal("2.3") and decompression.points == 445


def test_diagnosis_only_with_consent() -> None:
    dx = Diagnosis("m51.2", "Sonstige näher bezeichnete Bandscheibenverlagerung")
    assert dx.icd10 == "M51.2"
    assert draft_invoice(PATIENT, _course(), diagnosis=dx).diagnosis is None
    assert draft_invoice(PATIENT, _course(), diagnosis=dx, diagnosis_consent=True).diagnosis == dx
    with pytest.raises(InputError, match="ICD-10"):
        Diagnosis("lumbago")


def test_issue_then_paid_and_never_edited() -> None:
    draft = draft_invoice(PATIENT, _course())
    draft = edit(draft, lines=draft.lines[:3])  # a draft may change
    assert draft.total == Decimal("70.68")
    issued = issue(draft, format_invoice_number(2025, 1), date(2025, 3, 8))
    assert issued.number == "2025-00001" and issued.status is InvoiceStatus.ISSUED
    with pytest.raises(InvoiceStateError, match="never edited"):
        edit(issued, lines=())
    with pytest.raises(InvoiceStateError):
        issue(issued, "2025-00002", date(2025, 3, 8))
    paid = mark_paid(issued, date(2025, 3, 20))
    assert paid.status is InvoiceStatus.PAID
    with pytest.raises(InvoiceStateError):
        mark_paid(paid, date(2025, 3, 21))


def test_cancellation_is_a_credit_note_referring_to_the_original() -> None:
    issued = issue(draft_invoice(PATIENT, _course()), "2025-00007", date(2025, 3, 8))
    cancelled, note = cancel(issued, "2025-00008", date(2025, 3, 9))
    assert cancelled.status is InvoiceStatus.CANCELLED
    assert cancelled.lines == issued.lines  # the original is not edited
    assert cancelled.cancelled_by == "2025-00008"
    assert note.kind is InvoiceKind.CREDIT_NOTE and note.status is InvoiceStatus.ISSUED
    assert note.refers_to == "2025-00007" and note.number == "2025-00008"
    assert note.total == -issued.total
    assert all(n.amount == -o.amount for n, o in zip(note.lines, issued.lines, strict=True))
    with pytest.raises(InvoiceStateError, match="credit note cannot"):
        cancel(note, "2025-00009", date(2025, 3, 9))
    with pytest.raises(InvoiceStateError):
        cancel(cancelled, "2025-00009", date(2025, 3, 9))


def test_a_draft_is_discarded_not_cancelled() -> None:
    draft = draft_invoice(PATIENT, _course())
    with pytest.raises(InvoiceStateError, match="discarded"):
        cancel(draft, "2025-00001", date(2025, 3, 9))
    assert discard(draft).status is InvoiceStatus.CANCELLED


def test_numbers_and_issue_year() -> None:
    assert parse_invoice_number("2025-00042") == (2025, 42)
    with pytest.raises(InputError):
        parse_invoice_number("42")
    with pytest.raises(InputError, match="year must match"):
        issue(draft_invoice(PATIENT, _course()), "2024-00001", date(2025, 1, 2))


def test_scale_follows_insurance() -> None:
    assert scale_for(Insurance.PRIVATE).name == "standard"
    assert scale_for("statutory") is SELF_PAYER_SCALE
    assert scale_for("self_payer") is SELF_PAYER_SCALE
    with pytest.raises(InputError, match="insurance"):
        scale_for("gold")
    inv = draft_invoice(PATIENT, _course("cervical"), SELF_PAYER_SCALE)
    assert inv.total == Decimal("159.87") and inv.scale == "self_payer"


def test_justification_travels_to_the_line() -> None:
    inv = draft_invoice(
        PATIENT,
        _course()[:1],
        factors={"652": "3.0"},
        justifications={"652": "schwere Radikulopathie, verlängerte Einstellung"},
    )
    line = inv.lines[-1]
    assert line.factor == Decimal("3.0")
    assert line.justification == "schwere Radikulopathie, verlängerte Einstellung"
    assert line.amount == Decimal("77.81")  # 25.9378485 x 3 = 77.8135...


# --- the state machine, every (kind, status, action) ------------------------------------------
DR, IS, PD, CA = (InvoiceStatus.DRAFT, InvoiceStatus.ISSUED, InvoiceStatus.PAID,
                  InvoiceStatus.CANCELLED)  # fmt: skip
A = InvoiceAction
# Written out by hand (not derived from the module's table), so a changed rule fails here.
ALLOWED: dict[tuple[InvoiceKind, InvoiceStatus, InvoiceAction], InvoiceStatus] = {
    (InvoiceKind.INVOICE, DR, A.EDIT): DR,
    (InvoiceKind.INVOICE, DR, A.ISSUE): IS,
    (InvoiceKind.INVOICE, DR, A.DISCARD): CA,
    (InvoiceKind.INVOICE, IS, A.PAY): PD,
    (InvoiceKind.INVOICE, IS, A.CANCEL): CA,
    (InvoiceKind.INVOICE, PD, A.CANCEL): CA,
    (InvoiceKind.CREDIT_NOTE, DR, A.EDIT): DR,
    (InvoiceKind.CREDIT_NOTE, DR, A.ISSUE): IS,
    (InvoiceKind.CREDIT_NOTE, DR, A.DISCARD): CA,
}
EVERY = list(itertools.product(InvoiceKind, InvoiceStatus, InvoiceAction))


@pytest.mark.parametrize(("kind", "status", "action"), list(ALLOWED), ids=str)
def test_allowed_transition(
    kind: InvoiceKind, status: InvoiceStatus, action: InvoiceAction
) -> None:
    assert invoice_transition(status, action, kind) is ALLOWED[(kind, status, action)]
    # Strings from a database row work alike.
    assert (
        invoice_transition(status.value, action.value, kind.value)
        is ALLOWED[(kind, status, action)]
    )


@pytest.mark.parametrize(
    ("kind", "status", "action"), [k for k in EVERY if k not in ALLOWED], ids=str
)
def test_refused_transition_names_field_and_reason(
    kind: InvoiceKind, status: InvoiceStatus, action: InvoiceAction
) -> None:
    with pytest.raises(InvoiceStateError) as err:
        invoice_transition(status, action, kind)
    assert isinstance(err.value, InputError)
    assert err.value.field == "invoice"
    assert err.value.reason
    if kind is InvoiceKind.INVOICE:  # the reason names the state the user is in
        assert status.value in err.value.reason


def test_cancelled_is_final() -> None:
    for kind, action in itertools.product(InvoiceKind, InvoiceAction):
        with pytest.raises(InvoiceStateError):
            invoice_transition(CA, action, kind)


def test_unknown_status_or_action_is_an_input_error() -> None:
    with pytest.raises(InputError) as err:
        invoice_transition("sent", "pay")
    assert err.value.field == "status"
    with pytest.raises(InputError) as err:
        invoice_transition("issued", "refund")
    assert err.value.field == "action"


def test_cancel_means_discard_for_a_draft_and_a_credit_note_otherwise() -> None:
    assert cancel_action("draft") is A.DISCARD
    assert all(cancel_action(s) is A.CANCEL for s in (IS, PD, CA))


def test_domain_functions_follow_the_table() -> None:
    """Each domain operation moves exactly as the table says and refuses as it refuses."""
    draft = draft_invoice(PATIENT, _course())
    issued = issue(draft, "2025-00001", date(2025, 3, 8))
    paid = mark_paid(issued, date(2025, 3, 9))
    _, note = cancel(paid, "2025-00002", date(2025, 3, 10))
    assert (edit(draft).status, issued.status, paid.status) == (DR, IS, PD)
    assert cancel(paid, "2025-00002", date(2025, 3, 10))[0].status is CA
    with pytest.raises(InvoiceStateError, match="not marked paid"):
        mark_paid(note, date(2025, 3, 11))
    with pytest.raises(InvoiceStateError, match="discarded"):
        discard(issued)


def test_store_allows_exactly_the_billing_states() -> None:
    """The schema's CHECK constraint and the state machine name the same states."""
    from spinecare.store.billing_models import INVOICE_KINDS, INVOICE_STATUSES

    assert set(INVOICE_STATUSES) == {s.value for s in InvoiceStatus}
    assert set(INVOICE_KINDS) == {k.value for k in InvoiceKind}
    assert {s.value for s in LIVE_STATUSES} == {"draft", "issued", "paid"}
