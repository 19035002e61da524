"""`spinecare cohort run|report|compare`: verify a protocol on a virtual cohort.

The cohort drives the same session service, controller and safety policy as a patient's session
over simulated patients, on the simulated clock; on this process (``--workers 1``), on a Dask
LocalCluster (``--workers N``) or on an existing Dask scheduler (``--scheduler tcp://...``).
Heavy imports (numpy, numba, dask, matplotlib, weasyprint) happen inside the commands.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from spinecare.cli.app import app
from spinecare.cli.output import echo, number_option, print_json
from spinecare.errors import InputError

cohort_app = typer.Typer(
    help="Virtual cohort: verify a protocol on simulated patients (one machine or Dask).",
    no_args_is_help=True,
)
app.add_typer(cohort_app, name="cohort")

# Exit status when the cohort found a limit violation (the session's "safety fault" status).
EXIT_VIOLATIONS = 5
SEED_MAX = 2**63 - 1


class _Bar:
    """A progress bar on stderr with the rate and the time left (rich), or nothing."""

    def __init__(self, enabled: bool) -> None:
        self.progress: Any = None
        self.task: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(
                TextColumn("sessions"),
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
        self._t0: float | None = None
        self._first = 0

    def __call__(self, done: int, total: int) -> None:
        import time

        if self.progress is None:
            return
        now = time.perf_counter()
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task("cohort", total=total, rate="")
            self._t0, self._first = now, done
        rate = ""
        if self._t0 is not None and now > self._t0 and done > self._first:
            rate = f"{(done - self._first) / (now - self._t0):.2f} sessions/s"
        self.progress.update(self.task, completed=done, rate=rate)

    def close(self) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.stop()


@cohort_app.command("run")
def run(
    protocol: Annotated[
        str,
        typer.Option("--protocol", help="lumbar-default, cervical-default or a protocol file"),
    ],
    patients: Annotated[int, typer.Option("--patients", min=1, max=10_000_000)],
    out: Annotated[
        Path,
        typer.Option("--out", help="run directory (resumes a run there; more --patients grow it)"),
    ],
    sessions: Annotated[int, typer.Option("--sessions", min=1, max=40, help="per patient")] = 1,
    seed: Annotated[int, typer.Option("--seed", min=0, max=SEED_MAX)] = 0,
    faults: Annotated[
        str | None,
        typer.Option("--faults", help="fault catalogue: all, kinds separated by commas, or a file"),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=64, help="1: this process; more: LocalCluster")
    ] = 1,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="an existing Dask scheduler, tcp://HOST:PORT")
    ] = None,
    minutes: Annotated[
        float | None, number_option("--minutes", help="traction minutes (default: protocol's)")
    ] = None,
    emg: Annotated[bool, typer.Option("--emg", help="with the surface-EMG channel")] = False,
    chunk: Annotated[int, typer.Option("--chunk", min=1, max=10_000, help="patients a task")] = 25,
    report: Annotated[bool, typer.Option("--report/--no-report", help="HTML and PDF")] = True,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the cohort summary as JSON")
    ] = False,
) -> None:
    """Run a protocol over N virtual patients x S sessions; resumable, same figures for any
    number of workers."""
    from spinecare.cohort.runner import cohort_run
    from spinecare.cohort.spec import CohortSpec, protocol_load

    if scheduler is not None and not scheduler.startswith(("tcp://", "tls://", "inproc://")):
        raise InputError("scheduler", "must be an address like tcp://HOST:PORT", scheduler)
    if minutes is not None:
        from spinecare.quantities import SESSION_MINUTES

        # the protocol's own range (it refused 50 after this check had let it pass), and at
        # least a minute: a virtual session shorter than that shows no pull to score
        top = SESSION_MINUTES.safe_max
        if not 1.0 <= minutes <= top:
            raise InputError("minutes", f"must be between 1 and {top:g}", minutes)
    name, template = protocol_load(protocol)
    spec = CohortSpec(
        protocol_name=name,
        template=template,
        patients=patients,
        sessions=sessions,
        seed=seed,
        minutes=minutes,
        faults=_faults(faults),
        emg=emg,
        chunk_size=chunk,
    )
    bar = _Bar(sys.stderr.isatty())
    try:
        result = cohort_run(spec, out, workers=workers, scheduler=scheduler, progress=bar)
    finally:
        bar.close()
    summary = result.summary
    if report:
        from spinecare.cohort.report import report_html, report_write

        report_write(report_html(spec, result.patients, summary), out)
    if as_json:
        print_json(
            {k: v for k, v in summary.items() if k not in ("faults", "progression")}
            | {
                "faults": [
                    {k: v for k, v in f.items() if k != "time_to_safe_s"} for f in summary["faults"]
                ],
                "progression": summary["progression"],
            }
        )
    else:
        _print_text(summary, out)
    if summary["limit_violations"]:
        raise typer.Exit(EXIT_VIOLATIONS)


def _faults(text: str | None) -> Any:
    from spinecare.cohort.faults import catalogue_parse

    if text is None:
        return ()
    path = Path(text)
    if path.is_file():
        from spinecare.cli.textfile import MAX_CLINICAL_FILE_BYTES, text_read

        content = text_read(path, limit_bytes=MAX_CLINICAL_FILE_BYTES, field="faults")
        names = [ln.split("#", 1)[0].strip() for ln in content.splitlines()]
        return catalogue_parse(",".join(n for n in names if n))
    return catalogue_parse(text)


def _fig(value: Any, unit: str) -> str:
    """A figure with its unit, or "n/a" where the run has none (no completed hold, a stalled
    winch that never went slack)."""
    return "n/a" if value is None else f"{value}{unit}"


def _print_text(summary: dict[str, Any], out: Path) -> None:
    run = summary["run"]
    echo(
        f"{summary['patient_sessions']} patient-sessions ({summary['patients']} patients, "
        f"{summary['screened_out']} screened out), {summary['completed']} completed"
    )
    echo(f"limit violations: {summary['limit_violations']}")
    echo(
        f"peak force: max {_fig(summary['peak_force_pct_bw_max'], '%')} of body weight; hold "
        f"tracking error {_fig(summary['hold_tracking_error_pct_mean'], '%')} (mean)"
    )
    echo(
        f"guarding: recall {_fig(summary['guarding_recall'], '')} of {summary['guarding_true']}, "
        f"false stops {summary['false_stops_per_session']} per session"
    )
    for f in summary["faults"]:
        echo(
            f"fault {f['fault']}: {f['released']}/{f['sessions']} released, time to safe state "
            f"p50 {_fig(f['time_to_safe_s_p50'], ' s')}, max {_fig(f['time_to_safe_s_max'], ' s')}"
        )
    echo(
        f"{run['sessions_computed']} sessions computed in {run['wall_s']} s "
        f"({run['sessions_per_s']} sessions/s, {run['scheduler']}, {run['workers']} workers; "
        f"{run['chunks_resumed']} chunks resumed)"
    )
    echo(f"results in {out}")


@cohort_app.command("report")
def report_cmd(
    run_dir: Annotated[Path, typer.Argument(help="a cohort run directory")],
) -> None:
    """Write report.html and report.pdf for a finished run."""
    import json

    from spinecare.cohort.report import report_html, report_write
    from spinecare.cohort.runner import SUMMARY_FILE, run_dir_load
    from spinecare.cohort.summary import cohort_summary

    spec, patients = run_dir_load(run_dir)
    summary = cohort_summary(patients)
    with contextlib.suppress(OSError, ValueError, KeyError):  # the last run's speed, if any
        summary["run"] = json.loads((run_dir / SUMMARY_FILE).read_text(encoding="utf-8"))["run"]
    html_path, pdf_path = report_write(report_html(spec, patients, summary), run_dir)
    echo(f"{html_path}\n{pdf_path}")


@cohort_app.command("compare")
def compare(
    a: Annotated[Path, typer.Argument(help="run directory A")],
    b: Annotated[Path, typer.Argument(help="run directory B (differences are B - A)")],
    out: Annotated[Path | None, typer.Option("--out", help="write compare.html/.pdf here")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Pair two protocols on the same virtual patients: differences with 95% intervals."""
    from spinecare.cohort.runner import run_dir_load
    from spinecare.cohort.summary import cohort_compare

    spec_a, pa = run_dir_load(a)
    spec_b, pb = run_dir_load(b)
    for field in ("seed", "patients", "sessions"):
        if getattr(spec_a, field) != getattr(spec_b, field):
            raise InputError(
                "b",
                f"is not paired with A: {field} {getattr(spec_b, field)} vs "
                f"{getattr(spec_a, field)} (run both with the same --patients, --sessions, --seed)",
                str(b),
            )
    if spec_a.region is not spec_b.region:
        raise InputError("b", "treats another region than A", str(b))
    rows = cohort_compare(pa, pb, seed=spec_a.seed)
    if out is not None:
        from spinecare.cohort.report import compare_html, report_write

        report_write(compare_html(spec_a.protocol_name, spec_b.protocol_name, rows), out, "compare")
    if as_json:
        print_json({"a": spec_a.protocol_name, "b": spec_b.protocol_name, "differences": rows})
        return
    echo(
        f"B - A: {spec_b.protocol_name} - {spec_a.protocol_name}, "
        f"paired on {spec_a.patients} patients"
    )
    for r in rows:
        mark = " *" if r["significant"] else ""
        echo(
            f"  {r['metric']:<26} {r['difference']:+.4g}  [{r['ci_low']:+.4g}, {r['ci_high']:+.4g}]"
            f"  (A {r['a_mean']:.4g}, B {r['b_mean']:.4g}){mark}"
        )
