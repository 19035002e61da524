"""`spinecare invoice quote|create|issue|pay|cancel|show|list`.

``quote`` prices a session or a course without a database; the others keep invoices in the
clinic database (numbers assigned at issue, cancellations by credit note, all audited).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import typer

from spinecare.billing import SELF_PAYER_SCALE, STANDARD_SCALE, Quote, quote
from spinecare.cli.app import app
from spinecare.cli.db import AS_OPTION, JSON_OPTION, print_json, run_read, run_write
from spinecare.cli.output import ON_ALIAS, date_option, echo
from spinecare.errors import InputError

if TYPE_CHECKING:  # imported by the commands that use it: SQLAlchemy (start-up)
    from spinecare.services import invoices as svc

invoice_app = typer.Typer(help="GOÄ fees and invoices.", no_args_is_help=True)
app.add_typer(invoice_app, name="invoice")


def parse_assignments(values: list[str] | None, option: str) -> dict[str, str]:
    """``["652=2.5", "538=1.9"]`` -> ``{"652": "2.5", "538": "1.9"}``; one line on a bad form."""
    out: dict[str, str] = {}
    for raw in values or []:
        item, sep, value = raw.partition("=")
        if not sep or not item.strip() or not value.strip():
            raise InputError(option, "expected ITEM=VALUE, e.g. 652=2.5", raw)
        out[item.strip()] = value.strip()
    return out


# A quote or an estimate is for one course at most: 15-20 sessions [seed-spinemed]
# (clinical/course.py); anything beyond is a typing error, not a plan.
MAX_QUOTED_SESSIONS = 20


def check_sessions(sessions: int, field: str = "sessions") -> int:
    if not 1 <= sessions <= MAX_QUOTED_SESSIONS:
        raise InputError(field, f"must be 1-{MAX_QUOTED_SESSIONS} (one course at most)", sessions)
    return sessions


def _money(d: Decimal) -> str:
    return f"{d:.2f}"


def quote_json(q: Quote) -> dict[str, Any]:
    return {
        "region": q.region,
        "scale": q.scale,
        "sessions": q.sessions,
        "items": [
            {
                "number": ln.number,
                "analog_of": ln.analog_of,
                "label": ln.service.label,
                "description": ln.service.description("de"),
                "points": str(ln.points),
                "factor": str(ln.factor),
                "amount": _money(ln.amount),
                "justification": ln.justification,
            }
            for ln in q.lines
        ],
        "session_total": _money(q.session_total),
        "total": _money(q.total),
    }


@invoice_app.command("quote")
def quote_cmd(
    region: str = typer.Option(..., "--region", help="lumbar | cervical"),
    sessions: int = typer.Option(
        1, "--sessions", help=f"number of sessions, 1-{MAX_QUOTED_SESSIONS} (one course)"
    ),
    self_payer: bool = typer.Option(False, "--self-payer", help="use the self-payer fee scale"),
    factor: list[str] | None = typer.Option(None, "--factor", help="ITEM=FACTOR, e.g. 652=2.5"),
    justification: list[str] | None = typer.Option(
        None, "--justification", help="ITEM=TEXT, required above the threshold factor"
    ),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Price a session (or N sessions) under the standard or the self-payer scale."""
    check_sessions(sessions)
    q = quote(
        region.strip().lower(),
        sessions,
        SELF_PAYER_SCALE if self_payer else STANDARD_SCALE,
        factors=parse_assignments(factor, "--factor"),
        justifications=parse_assignments(justification, "--justification"),
    )
    if as_json:
        print_json(quote_json(q))
        return
    echo(f"{q.region} session, fee scale {q.scale}")
    for ln in q.lines:
        amount = _money(ln.amount)
        echo(
            f"  {ln.service.label:<11} {ln.points:>4} P x {ln.factor:<5} = {amount:>8} EUR"
            f"  {ln.service.own_text('de')}"
        )
        if ln.justification:
            echo(f"  {'':<11} justification: {ln.justification}")
    echo(f"  per session: {_money(q.session_total)} EUR")
    if q.sessions > 1:
        echo(f"  {q.sessions} sessions: {_money(q.total)} EUR")
    else:
        echo(f"  total: {_money(q.total)} EUR")


# --- invoices in the database (phase 2) ------------------------------------------------------


def _invoice_line(inv: svc.InvoicePublic) -> str:
    number = inv.number or "(draft)"
    ref = f"  refers to {inv.refers_to}" if inv.refers_to else ""
    by = f"  cancelled by {inv.cancelled_by}" if inv.cancelled_by else ""
    return (
        f"{inv.id:>5}  {number:<11} {inv.kind:<11} {inv.status:<9} patient {inv.patient_id:<5}"
        f" {_money(inv.total):>10} EUR{ref}{by}"
    )


def _show(inv: svc.InvoicePublic, as_json: bool) -> None:
    if as_json:
        print_json(inv)
        return
    echo(_invoice_line(inv))
    for ln in inv.lines:
        label = f"{ln.number} analog" if ln.analog_of else ln.number
        echo(
            f"       {ln.service_date.isoformat()}  {label:<11} x {ln.factor.normalize():<5}"
            f" {_money(ln.amount):>9} EUR  {ln.description}"
        )
        if ln.justification:
            echo(f"       {'':<10}  justification: {ln.justification}")


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError("--date", "expected YYYY-MM-DD", value) from None


@invoice_app.command("create")
def create_cmd(
    patient: int = typer.Option(..., "--patient", help="patient id"),
    session: list[int] | None = typer.Option(None, "--session", help="treated session id"),
    course: int | None = typer.Option(None, "--course", help="bill every unbilled session"),
    factor: list[str] | None = typer.Option(None, "--factor", help="ITEM=FACTOR"),
    justification: list[str] | None = typer.Option(None, "--justification", help="ITEM=TEXT"),
    lang: str = typer.Option("de", "--lang", help="language of the line texts: de | en"),
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Draft an invoice for treated sessions (fee scale from the patient's insurance)."""
    from spinecare.services import invoices as svc

    factors = parse_assignments(factor, "--factor")
    texts = parse_assignments(justification, "--justification")
    inv = run_write(
        as_user,
        lambda s, actor, settings: svc.create_invoice(
            s, actor, patient, session_ids=session or None, course_id=course,
            factors=factors, justifications=texts, lang=lang, zone=settings.clinic.zone,
        ),
    )  # fmt: skip
    _show(inv, as_json)


def _transition(
    change: Callable[..., Any],
    invoice_id: int,
    on: str | None,
    as_user: str | None,
    as_json: bool,
) -> None:
    """One state change of an invoice (issue, pay, cancel) on a date, then show it."""
    day = _day(on)
    inv = run_write(
        as_user,
        lambda s, actor, settings: change(s, actor, invoice_id, on=day, zone=settings.clinic.zone),
    )
    _show(inv, as_json)


@invoice_app.command("issue")
def issue_cmd(
    invoice_id: int = typer.Argument(..., help="invoice id"),
    on: str | None = typer.Option(None, "--date", help="issue date (default today), YYYY-MM-DD"),
    on_alias: str | None = ON_ALIAS,
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Issue a draft: it gets the next number of the year and is frozen."""
    from spinecare.services import invoices as svc

    _transition(svc.issue_invoice, invoice_id, date_option(on, on_alias), as_user, as_json)


@invoice_app.command("pay")
def pay_cmd(
    invoice_id: int = typer.Argument(..., help="invoice id"),
    on: str | None = typer.Option(None, "--date", help="payment date (default today), YYYY-MM-DD"),
    on_alias: str | None = ON_ALIAS,
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Mark an issued invoice as paid."""
    from spinecare.services import invoices as svc

    _transition(svc.mark_paid, invoice_id, date_option(on, on_alias), as_user, as_json)


@invoice_app.command("cancel")
def cancel_cmd(
    invoice_id: int = typer.Argument(..., help="invoice id"),
    on: str | None = typer.Option(
        None, "--date", help="cancellation date (default today), YYYY-MM-DD"
    ),
    on_alias: str | None = ON_ALIAS,
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Cancel: an issued invoice by a credit note (printed), a draft by discarding it."""
    from spinecare.services import invoices as svc

    _transition(svc.cancel_invoice, invoice_id, date_option(on, on_alias), as_user, as_json)


@invoice_app.command("show")
def show_cmd(
    invoice_id: int = typer.Argument(..., help="invoice id"),
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show one invoice with its lines."""
    from spinecare.services import invoices as svc

    _show(run_read(as_user, lambda s, actor, _: svc.get_invoice(s, actor, invoice_id)), as_json)


@invoice_app.command("list")
def list_cmd(
    patient: int | None = typer.Option(None, "--patient", help="only this patient's"),
    status: str | None = typer.Option(None, "--status", help="draft|issued|paid|cancelled"),
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List invoices and credit notes."""
    from spinecare.services import invoices as svc

    rows = run_read(
        as_user,
        lambda s, actor, _: svc.list_invoices(s, actor, patient_id=patient, status=status),
    )
    if as_json:
        print_json(rows)
        return
    for inv in rows:
        echo(_invoice_line(inv))
