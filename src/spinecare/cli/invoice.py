"""`spinecare invoice quote`: the GOÄ fees of a session or a course, without a database."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import typer

from spinecare.billing import SELF_PAYER_SCALE, STANDARD_SCALE, Quote, quote
from spinecare.cli.app import app
from spinecare.errors import InputError

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
    sessions: int = typer.Option(1, "--sessions", min=1, help="number of sessions (course)"),
    self_payer: bool = typer.Option(False, "--self-payer", help="use the self-payer fee scale"),
    factor: list[str] | None = typer.Option(None, "--factor", help="ITEM=FACTOR, e.g. 652=2.5"),
    justification: list[str] | None = typer.Option(
        None, "--justification", help="ITEM=TEXT, required above the threshold factor"
    ),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Price a session (or N sessions) under the standard or the self-payer scale."""
    q = quote(
        region.strip().lower(),
        sessions,
        SELF_PAYER_SCALE if self_payer else STANDARD_SCALE,
        factors=parse_assignments(factor, "--factor"),
        justifications=parse_assignments(justification, "--justification"),
    )
    if as_json:
        typer.echo(json.dumps(quote_json(q), ensure_ascii=False, indent=2))
        return
    typer.echo(f"{q.region} session, fee scale {q.scale}")
    for ln in q.lines:
        amount = _money(ln.amount)
        typer.echo(
            f"  {ln.service.label:<11} {ln.points:>4} P x {ln.factor:<5} = {amount:>8} EUR"
            f"  {ln.service.own_text('de')}"
        )
        if ln.justification:
            typer.echo(f"  {'':<11} justification: {ln.justification}")
    typer.echo(f"  per session: {_money(q.session_total)} EUR")
    if q.sessions > 1:
        typer.echo(f"  {q.sessions} sessions: {_money(q.total)} EUR")
    else:
        typer.echo(f"  total: {_money(q.total)} EUR")
