"""`spinecare course plan|show|attach`: treatment courses and their sessions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from spinecare.cli.app import app
from spinecare.cli.db import AS_OPTION, JSON_OPTION, print_json, run_read, run_write
from spinecare.cli.output import echo
from spinecare.services import courses as svc

course_app = typer.Typer(help="Treatment courses: plan (prescribe and book), show, attach results.")
app.add_typer(course_app, name="course")


def _print_course(c: svc.CoursePublic, tz: Any) -> None:
    echo(
        f"course {c.id}: patient {c.patient_id}, {c.region.value} {c.segment}, "
        f"{c.planned_sessions} sessions, {c.sessions_per_week}/week from "
        f"{c.start_date.isoformat()} ({c.status.value})"
    )
    for s in c.sessions:
        start = s.scheduled_start.astimezone(tz)
        end = s.scheduled_end.astimezone(tz)
        review = "  <- review point" if s.review_point else ""
        echo(
            f"  #{s.number:<3} {start:%a %Y-%m-%d %H:%M}-{end:%H:%M}  "
            f"peak {s.peak_force_n:6.1f} N  base {s.base_force_n:6.1f} N  "
            f"{s.status.value}  [session {s.id}]{review}"
        )
    for w in c.warnings:
        echo(f"warning: {w}")


@course_app.command("plan")
def plan(
    patient: int = typer.Option(..., "--patient", help="patient id"),
    region: str = typer.Option(..., "--region", help="lumbar | cervical"),
    segment: str = typer.Option(..., "--segment", help="e.g. L4/5, C5/6"),
    sessions: int = typer.Option(15, "--sessions", help="15-20 (seed)"),
    per_week: int = typer.Option(3, "--per-week", help="2-5"),
    start: str = typer.Option(..., "--start", help="first possible day, YYYY-MM-DD"),
    preferred_time: str | None = typer.Option(None, "--time", help="preferred slot, HH:MM"),
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Prescribe a course: screen, book the sessions, set each session's force."""
    data = svc.CoursePlan.model_validate(
        {
            "patient_id": patient,
            "region": region.strip().lower(),
            "segment": segment,
            "sessions": sessions,
            "per_week": per_week,
            "start": start,
            "preferred_time": preferred_time,
        }
    )
    course, tz = run_write(
        as_user,
        lambda s, actor, settings: (
            svc.plan_course(s, actor, data, clinic=settings.clinic),
            settings.clinic.zone,
        ),
    )
    if as_json:
        print_json(course)
    else:
        _print_course(course, tz)


@course_app.command("show")
def show(
    course_id: int = typer.Argument(..., metavar="ID"),
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a course and its sessions."""
    course, tz = run_read(
        as_user,
        lambda s, actor, settings: (svc.get_course(s, actor, course_id), settings.clinic.zone),
    )
    if as_json:
        print_json(course)
    else:
        _print_course(course, tz)


@course_app.command("attach")
def attach(
    session_id: int = typer.Option(..., "--session", help="session id"),
    directory: Path = typer.Option(..., "--dir", help="the session's output directory"),
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record a finished session from its output directory (summary.json)."""
    from spinecare.services import sessions as session_svc  # the runtime: not at import

    s = run_write(
        as_user, lambda db, actor, _: session_svc.attach_output(db, actor, session_id, directory)
    )
    if as_json:
        print_json(s)
    else:
        echo(f"session {s.id} (#{s.number}): {s.status.value}, {s.telemetry_dir}")
