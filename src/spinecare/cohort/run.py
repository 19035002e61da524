"""Run simulated sessions one by one or as a batch over processes.

`sim/` stays pure physics; this module drives `runtime/` with simulated tables.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spinecare.devices.simulated import SimulatedTable
from spinecare.runtime.clock import SimulatedClock
from spinecare.services.sessions import SessionOptions, session_run
from spinecare.sim.faults import Fault
from spinecare.sim.population import virtual_patient
from spinecare.therapy.protocol import Protocol, default_protocol
from spinecare.vocab import SEGMENTS, Region, TableType

# The virtual clinic's weight range, 45-140 kg: the span of sim/population.py (engineering choice:
# light to heavy adults, the span the closed-loop acceptance tests cover).
COHORT_WEIGHT_KG = (45.0, 140.0)


@dataclass(frozen=True, slots=True)
class VirtualSession:
    """One simulated session: who, what, and which faults to inject."""

    seed: int
    region: Region
    weight_kg: float
    segment: str
    minutes: float = 30.0
    table: TableType = TableType.SPLIT
    emg: bool = False
    session_number: int = 1
    faults: tuple[Fault, ...] = field(default=())

    def protocol(self) -> Protocol:
        return default_protocol(
            self.region,
            self.weight_kg,
            self.segment,
            table=self.table,
            session_number=self.session_number,
            traction_minutes=self.minutes,
        )


def make_table(
    vs: VirtualSession, time_source: Callable[[], float] | None = None
) -> SimulatedTable:
    """The virtual patient on a simulated table; with ``time_source`` it follows that clock."""
    patient = virtual_patient(
        vs.seed, region=vs.region, weight_kg=vs.weight_kg, session_number=vs.session_number
    )
    return SimulatedTable(
        patient,
        seed=vs.seed,
        emg=vs.emg,
        table=vs.table,
        faults=vs.faults,
        time_source=time_source,
    )


def simulated_table_factory(
    protocol: Protocol, seed: int, emg: bool
) -> Callable[[Callable[[], float]], SimulatedTable]:
    """A device factory for the session service: the simulated table with a virtual patient of
    the protocol's region, weight, segment and session number (the CLI's and the web app's)."""
    vs = VirtualSession(
        seed=seed,
        region=protocol.region,
        weight_kg=protocol.body_weight_kg,
        segment=protocol.segment,
        table=protocol.table,
        emg=emg,
        session_number=protocol.session_number,
    )
    return lambda now: make_table(vs, now)


def run_virtual_session(
    vs: VirtualSession, *, out_dir: Path | None = None, protocol: Protocol | None = None
) -> dict[str, Any]:
    """Run one session through the session service on the simulated clock; the result is the
    summary with the ground-truth scores merged in (for the cohort's figures only)."""
    proto = protocol or vs.protocol()
    t0 = time.perf_counter()
    done = session_run(
        proto,
        lambda now: make_table(vs, now),
        options=SessionOptions(clock=SimulatedClock(), emg=vs.emg, fsync=False),
        out_dir=out_dir,
    )
    wall = time.perf_counter() - t0
    out = done.summary.model_dump(mode="json")
    out.update(done.truth or {})
    out["seed"] = vs.seed
    out["weight_kg"] = vs.weight_kg
    out["region"] = vs.region.value
    out["wall_s"] = round(wall, 3)
    return out


def cohort_sessions(
    n: int,
    seed: int = 0,
    *,
    minutes: float = 30.0,
    emg: bool = False,
    regions: Sequence[Region] = (Region.LUMBAR, Region.CERVICAL),
) -> list[VirtualSession]:
    """``n`` reproducible virtual sessions spread over weights, regions and segments."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        region = regions[i % len(regions)]
        segs = SEGMENTS[region]
        out.append(
            VirtualSession(
                seed=seed * 100_003 + i,
                region=region,
                weight_kg=round(float(rng.uniform(*COHORT_WEIGHT_KG)), 1),
                segment=segs[int(rng.integers(len(segs)))],
                minutes=minutes,
                emg=emg,
            )
        )
    return out


def run_cohort(
    sessions: Iterable[VirtualSession], *, workers: int | None = None
) -> list[dict[str, Any]]:
    """Run sessions over ``workers`` processes (default: all cores); results keep their order."""
    items = list(sessions)
    workers = workers or os.cpu_count() or 1
    if workers <= 1 or len(items) <= 1:
        return [run_virtual_session(vs) for vs in items]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(
            pool.map(run_virtual_session, items, chunksize=max(1, len(items) // (4 * workers)))
        )


def cohort_report(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Aggregate acceptance metrics over a cohort: clamp violations, detection rate, false stops,
    hold accuracy (the closed-loop figures of docs/controller.md)."""
    true_n = sum(r["guarding_true"] for r in results)
    hit_n = sum(r["guarding_true_detected"] for r in results)
    holds = [r["hold_within_10pct"] for r in results if r["hold_within_10pct"] is not None]
    from_measurable = [x for r in results for x in r["response_from_measurable_s"]]
    q = np.quantile(from_measurable, [0.5, 0.95]) * 1000 if from_measurable else [None, None]
    return {
        "sessions": len(results),
        "limit_violations": sum(r["limit_violations"] for r in results),
        "guarding_true": true_n,
        "guarding_detected_true": hit_n,
        "detection_rate": hit_n / true_n if true_n else None,
        "false_stops_per_session": sum(r["false_stops"] for r in results) / max(1, len(results)),
        "hold_within_10pct_min": min(holds) if holds else None,
        "hold_within_10pct_mean": float(np.mean(holds)) if holds else None,
        "base_tension_lost_s_max": max(r["base_tension_lost_s"] for r in results),
        "completed": sum(1 for r in results if r["completed"]),
        "response_ms_from_measurable_median": None if q[0] is None else round(float(q[0]), 1),
        "response_ms_from_measurable_p95": None if q[1] is None else round(float(q[1]), 1),
        "wall_s_mean": float(np.mean([r["wall_s"] for r in results])),
    }
