"""`spinecare outcome record|series`: pain NRS and ODI."""

from __future__ import annotations

from typing import Any

import typer

from spinecare.cli.app import app
from spinecare.cli.db import AS_OPTION, JSON_OPTION, print_json, run_read, run_write
from spinecare.cli.output import echo
from spinecare.errors import InputError
from spinecare.services import outcomes as svc

outcome_app = typer.Typer(help="Patient-reported outcomes: pain NRS, Oswestry Disability Index.")
app.add_typer(outcome_app, name="outcome")


@outcome_app.command("record")
def record(
    session_id: int | None = typer.Option(None, "--session", help="session id"),
    course_id: int | None = typer.Option(None, "--course", help="course id (ODI baseline)"),
    nrs_before: int | None = typer.Option(None, "--nrs-before", help="pain 0-10 before"),
    nrs_after: int | None = typer.Option(None, "--nrs-after", help="pain 0-10 after"),
    odi: str | None = typer.Option(None, "--odi", help="10 answers 0-5, comma-separated"),
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record NRS before/after a session and/or an ODI questionnaire."""
    nrs = (
        svc.NrsRecord(nrs_before=nrs_before, nrs_after=nrs_after)
        if nrs_before is not None or nrs_after is not None
        else None
    )
    odi_data = svc.parse_odi(odi) if odi is not None else None
    if nrs is None and odi_data is None:
        raise InputError("nrs_before", "give --nrs-before/--nrs-after and/or --odi")
    if nrs is not None and session_id is None:
        raise InputError("session", "NRS belongs to a session: --session ID")
    if session_id is None and course_id is None:
        raise InputError("session", "--session ID or --course ID")

    def work(s: Any, actor: Any, _: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"recorded": []}
        if nrs is not None and session_id is not None:
            out["recorded"] += [
                o.model_dump(mode="json")
                for o in svc.record_nrs(s, actor, session_id, nrs, course_id=course_id)
            ]
        if odi_data is not None:
            row, score = svc.record_odi(
                s, actor, odi_data, session_id=session_id, course_id=course_id
            )
            out["recorded"].append(row.model_dump(mode="json"))
            out["odi"] = score.model_dump(mode="json")
        return out

    data = run_write(as_user, work)
    if as_json:
        print_json(data)
        return
    for r in data["recorded"]:
        echo(f"{r['kind']}: {r['value']:g}")
    if "odi" in data:
        echo(f"ODI band: {data['odi']['band']}")


@outcome_app.command("series")
def series(
    course_id: int = typer.Option(..., "--course", help="course id"),
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """A course's NRS/ODI series and the review-point status."""
    data = run_read(
        as_user,
        lambda s, actor, settings: svc.course_outcomes(s, actor, course_id, clinic=settings.clinic),
    )
    if as_json:
        print_json(data)
        return
    odi = dict(zip(data.chart.odi_session_numbers, data.chart.odi_percent, strict=True))
    bands = dict(zip(data.chart.odi_session_numbers, data.chart.odi_bands, strict=True))
    for i, q in enumerate(data.course_odi):  # the course's own questionnaires
        when = "baseline" if i == 0 else "course"
        echo(f"  {when:<14} {q.recorded_at:%Y-%m-%d}  ODI {float(q.value):g} %")
    for o in data.sessions:
        after = "-" if o.nrs_after is None else o.nrs_after
        line = f"  #{o.session_number:<3} {o.date}  NRS {o.nrs_before} -> {after}"
        if o.session_number in odi:
            line += f"  ODI {odi[o.session_number]:g} % ({bands[o.session_number].value})"
        echo(line)
    echo(data.review.message)
