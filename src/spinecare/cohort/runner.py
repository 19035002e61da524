"""Run a cohort in chunks, on this process or on Dask, persisting every chunk as it finishes.

Layout of a run directory:

* ``cohort.json``: the spec (what decides the figures); a run resumes only with the same spec;
* ``chunks/chunk-NNNNNN.json``: the courses of one chunk of patients, written atomically;
* ``summary.json``: the figures and, under ``run``, how long this invocation took.

An interrupted run (Ctrl-C, a killed process, a lost worker) keeps its finished chunks; running
the same command again computes only the missing ones. Chunks are tasks: a batch of patients
(``chunk_size``), so that scheduling costs little against the work. With Dask, each worker has
one thread and numba compiles (or loads its cache) once per worker, in a warm-up before the
first task.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spinecare.cohort.engine import chunk_run
from spinecare.cohort.faults import CohortFault
from spinecare.cohort.spec import CohortSpec
from spinecare.cohort.summary import cohort_summary
from spinecare.errors import InputError

SPEC_FILE = "cohort.json"
SUMMARY_FILE = "summary.json"
CHUNK_DIR = "chunks"

Progress = Callable[[int, int], None]  # (sessions done, sessions in the run)


@dataclass(slots=True)
class CohortRun:
    spec: CohortSpec
    out_dir: Path
    summary: dict[str, Any]
    patients: list[dict[str, Any]]
    chunks_computed: int
    chunks_resumed: int


def chunk_path(out_dir: Path, chunk: int) -> Path:
    return out_dir / CHUNK_DIR / f"chunk-{chunk:06d}.json"


def _write_atomic(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, path)


def _read_chunk(spec: CohortSpec, out_dir: Path, chunk: int) -> list[dict[str, Any]] | None:
    """A finished chunk, or None when it is missing or torn (then it is computed again)."""
    path = chunk_path(out_dir, chunk)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    want = list(spec.chunk_range(chunk))
    if not isinstance(data, list) or [p.get("patient") for p in data] != want:
        return None
    return data


def run_dir_open(spec: CohortSpec, out_dir: Path) -> None:
    """Create the run directory, or check that the one there is this very run (to resume)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / CHUNK_DIR).mkdir(exist_ok=True)
    spec_path = out_dir / SPEC_FILE
    if spec_path.exists():
        try:
            stored = json.loads(spec_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise InputError(
                "out", "holds a damaged cohort.json; choose a new directory", str(out_dir)
            ) from None
        want = spec.figures_key()
        if {**stored, "patients": want["patients"]} != want:
            raise InputError(
                "out",
                "holds a different cohort run (protocol, sessions, seed, minutes, faults or "
                "chunk size differ); choose a new directory",
                str(out_dir),
            )
        if stored != want:
            # The same run with more (or fewer) patients: a patient's seeds depend on the run's
            # seed and the patient's number alone, so every chunk already computed is the new
            # run's too; a chunk whose patients differ (the old last one) is computed again.
            _write_atomic(spec_path, want)
    else:
        _write_atomic(spec_path, spec.figures_key())


def run_dir_load(out_dir: Path) -> tuple[CohortSpec, list[dict[str, Any]]]:
    """A finished run's spec and records (for ``report`` and ``compare``)."""
    try:
        spec = CohortSpec.model_validate(
            json.loads((out_dir / SPEC_FILE).read_text(encoding="utf-8"))
        )
    except (OSError, ValueError):
        raise InputError(
            "run", "is not a cohort run directory (no valid cohort.json)", str(out_dir)
        ) from None
    patients: list[dict[str, Any]] = []
    for c in range(spec.chunks):
        data = _read_chunk(spec, out_dir, c)
        if data is None:
            raise InputError(
                "run", f"is incomplete (chunk {c} missing): run it again to finish", str(out_dir)
            )
        patients.extend(data)
    return spec, patients


def warm_up(emg: bool = False) -> None:
    """Compile (or load from numba's cache) what a session compiles, once per process."""
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    from spinecare.cohort.engine import patient_course

    # One session of the batch mode, and one of the per-tick path (fault and EMG sessions).
    spec = CohortSpec(protocol_name="lumbar-default", patients=1, sessions=1, seed=0, minutes=1.0)
    patient_course(spec, 0)
    patient_course(spec.model_copy(update={"faults": (CohortFault.PATIENT_STOP,), "emg": emg}), 0)


def _local(spec: CohortSpec, todo: list[int]) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    js = spec.figures_key()
    for c in todo:
        yield c, chunk_run(js, c)


def _dask(
    spec: CohortSpec, todo: list[int], workers: int, scheduler: str | None
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    # One thread per worker, and no hidden thread pools inside it.
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    from distributed import Client, LocalCluster, as_completed  # untyped: calls below say so

    cluster = None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError) as exc:
            raise InputError(
                "scheduler", f"cannot be reached ({type(exc).__name__})", scheduler
            ) from None
    else:
        cluster = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)  # type: ignore[no-untyped-call]
    try:
        client.run(warm_up, spec.emg)
        js = spec.figures_key()
        futures = {client.submit(chunk_run, js, c, pure=False): c for c in todo}
        for fut in as_completed(futures):  # type: ignore[no-untyped-call]
            yield futures[fut], fut.result()
    finally:
        client.close()  # type: ignore[no-untyped-call]
        if cluster is not None:
            cluster.close()


def cohort_run(
    spec: CohortSpec,
    out_dir: Path,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> CohortRun:
    """Run (or finish) a cohort; ``workers`` > 1 starts a Dask LocalCluster, ``scheduler``
    uses an existing one; with one worker and no scheduler it runs in this process."""
    out_dir = Path(out_dir)
    run_dir_open(spec, out_dir)
    have = {c: d for c in range(spec.chunks) if (d := _read_chunk(spec, out_dir, c)) is not None}
    todo = [c for c in range(spec.chunks) if c not in have]
    total = spec.patients * spec.sessions
    done_sessions = sum(
        len(p["sessions"]) + (spec.sessions if p["screened_out"] else 0)
        for d in have.values()
        for p in d
    )
    if progress is not None:
        progress(done_sessions, total)
    t0 = time.perf_counter()
    computed_sessions = 0
    if todo:
        if scheduler is None and workers <= 1:
            warm_up(spec.emg)
            source = _local(spec, todo)
        else:
            source = _dask(spec, todo, workers, scheduler)
        for c, data in source:
            _write_atomic(chunk_path(out_dir, c), data)
            have[c] = data
            n = sum(len(p["sessions"]) for p in data)
            computed_sessions += n
            done_sessions += n + sum(spec.sessions for p in data if p["screened_out"])
            if progress is not None:
                progress(done_sessions, total)
    wall = time.perf_counter() - t0
    patients = [p for c in range(spec.chunks) for p in have[c]]
    summary = cohort_summary(patients)
    summary["run"] = {
        "protocol": spec.protocol_name,
        "seed": spec.seed,
        "sessions_per_patient": spec.sessions,
        "workers": 1 if scheduler is None and workers <= 1 else workers,
        "scheduler": scheduler or ("local-cluster" if workers > 1 else "in-process"),
        "chunks": spec.chunks,
        "chunks_computed": len(todo),
        "chunks_resumed": spec.chunks - len(todo),
        "sessions_computed": computed_sessions,
        "wall_s": round(wall, 2),
        "sessions_per_s": round(computed_sessions / wall, 3)
        if computed_sessions and wall > 0
        else None,
    }
    summary["sessions_per_s"] = summary["run"]["sessions_per_s"]
    _write_atomic(out_dir / SUMMARY_FILE, summary)
    return CohortRun(spec, out_dir, summary, patients, len(todo), spec.chunks - len(todo))
