"""The virtual cohort end to end on a small cohort (the large run is benchmark B8).

What a user relies on: the same seed gives the same figures whatever ran them; an interrupted
run resumes; every fault of the catalogue ends in the safe state without a limit violation;
the cohort's sessions are the very sessions the real-time path runs (every command equal); the
CLI's JSON, report and comparison.
"""

from __future__ import annotations

import json
import math
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from spinecare.cli import main
from spinecare.cohort.engine import patient_course, patient_seeds, session_run_virtual
from spinecare.cohort.faults import CohortFault
from spinecare.cohort.runner import chunk_path, cohort_run, run_dir_load
from spinecare.cohort.spec import CohortSpec, first_protocol
from spinecare.cohort.summary import cohort_compare
from spinecare.runtime.clock import PacedClock
from spinecare.runtime.recorder import load_telemetry
from spinecare.runtime.session import TickView
from spinecare.services.sessions import SessionOptions, session_run
from spinecare.sim.demographics import profile_draw

SMALL = CohortSpec(
    protocol_name="lumbar-default", patients=4, sessions=2, seed=11, minutes=2.0, chunk_size=2
)


def _figures(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k not in ("run", "sessions_per_s")}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("cohort") / "a"
    return out, cohort_run(SMALL, out).summary


def test_a_course_progresses_and_keeps_the_limits(small_run: tuple[Path, Any]) -> None:
    _, s = small_run
    assert s["patient_sessions"] == 8 and s["completed"] == 8
    assert s["limit_violations"] == 0
    prog = s["progression"]
    assert [p["session"] for p in prog] == [1, 2]
    # Tolerated sessions step the peak up (clinical/dosing.py): never down over the course.
    assert prog[1]["peak_target_pct_bw_mean"] > prog[0]["peak_target_pct_bw_mean"]
    assert 0 < s["peak_force_pct_bw_max"] <= 60.0  # the body-weight cap (SAF-3)


def test_resume_computes_only_the_missing_chunk(small_run: tuple[Path, Any]) -> None:
    out, summary = small_run
    chunk_path(out, 1).unlink()  # as if the run had been killed before its last chunk
    again = cohort_run(SMALL, out)
    assert (again.chunks_computed, again.chunks_resumed) == (1, 1)
    assert _figures(again.summary) == _figures(summary)


def test_another_run_in_the_same_directory_is_refused(small_run: tuple[Path, Any]) -> None:
    out, _ = small_run
    status = main(
        ["cohort", "run", "--protocol", "lumbar-default", "--patients", "5", "--out", str(out)]
    )
    assert status == 2


def test_a_run_grown_to_more_patients_keeps_the_chunks_it_has(
    small_run: tuple[Path, Any], tmp_path: Path
) -> None:
    # How the 100,000-session run was grown (docs/cohort.md): 3 patients first (chunks of 2:
    # the second chunk holds one), then the 4 of SMALL in the same directory.
    _, summary = small_run
    out = tmp_path / "grown"
    first = cohort_run(SMALL.model_copy(update={"patients": 3}), out)
    assert (first.chunks_computed, first.summary["patients"]) == (2, 3)
    grown = cohort_run(SMALL, out)
    # The full first chunk is kept; the short one is computed again, with its new patient.
    assert (grown.chunks_computed, grown.chunks_resumed) == (1, 1)
    assert _figures(grown.summary) == _figures(summary)
    assert json.loads((out / "cohort.json").read_text())["patients"] == 4


def test_the_large_run_record_sums_the_stretches_it_ran(
    small_run: tuple[Path, Any], tmp_path: Path
) -> None:
    import importlib.util

    # bench/ is not a package on the test path: load B8's module from its file.
    path = Path(__file__).resolve().parents[2] / "bench" / "b8_cohort.py"
    spec = importlib.util.spec_from_file_location("b8_cohort", path)
    assert spec is not None and spec.loader is not None
    b8 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(b8)
    out, summary = small_run
    log = tmp_path / "times.log"
    log.write_text(
        "start 2026-11-28T17:00:00Z load 1.0\n"
        "stopped 2026-11-28T18:00:00Z (for CI; resume with run.sh)\n"
        "start 2026-11-28T19:00:00Z load 0.8\n"
        "end 2026-11-28T19:30:00Z status 0\n"
    )
    # The first chunk was written in the first stretch, the others in the last one.
    chunks = sorted((out / "chunks").glob("chunk-*.json"))
    assert len(chunks) >= 2
    for i, chunk in enumerate(chunks):
        when = "2026-11-28T17:30:00+00:00" if i == 0 else "2026-11-28T19:10:00+00:00"
        t = datetime.fromisoformat(when).timestamp()
        os.utime(chunk, (t, t))
    in_last = sum(len(p["sessions"]) for c in chunks[1:] for p in json.loads(c.read_text()))
    rec = b8.large_run_record(out, log, "abc1234")
    assert rec["hours"] == 1.5 and rec["stretches"] == 2 and rec["commit"] == "abc1234"
    assert 0 < in_last < 8
    assert rec["last_stretch"] == {
        "hours": 0.5,
        "patient_sessions": in_last,
        "sessions_per_s": round(in_last / 1800.0, 2),
    }
    assert rec["workers"] == summary["run"]["workers"] == 1
    assert rec["patient_sessions"] == summary["patient_sessions"] == 8
    assert rec["sessions_per_s"] == round(8 / 5400.0, 2)
    _, patients = run_dir_load(out)
    work_s = sum(x["wall_s"] for p in patients for x in p["sessions"])
    assert rec["limit_violations"] == 0 and rec["session_hours_summed"] == round(work_s / 3600, 2)


@pytest.mark.slow
def test_same_figures_with_two_dask_workers(small_run: tuple[Path, Any], tmp_path: Path) -> None:
    _, summary = small_run
    two = cohort_run(SMALL, tmp_path / "b", workers=2)
    assert two.summary["run"]["scheduler"] == "local-cluster"
    assert _figures(two.summary) == _figures(summary)


def test_patients_are_drawn_per_index_not_per_run() -> None:
    """Patient 3 is the same person in a cohort of 4 and of 1000 (seeds spawned per patient)."""
    big = SMALL.model_copy(update={"patients": 1000})
    a = profile_draw(patient_seeds(SMALL, 3)[0])
    b = profile_draw(patient_seeds(big, 3)[0])
    assert a == b
    assert profile_draw(patient_seeds(SMALL, 2)[0]) != a


def test_every_fault_ends_in_the_safe_state_without_violation() -> None:
    spec = CohortSpec(
        protocol_name="lumbar-default",
        patients=len(CohortFault),
        sessions=1,
        seed=3,
        minutes=1.5,
        faults=tuple(CohortFault),
    )
    seen = {}
    for i in range(spec.patients):
        for s in patient_course(spec, i)["sessions"]:
            seen[s["fault"]] = s
    assert set(seen) == {f.value for f in CohortFault}
    for kind, s in seen.items():
        assert s["limit_violations"] == 0, kind
        assert s["stopped"] or s["faulted"], kind  # detected and released
        # Detected at once, except a stall: during a hold a stalled winch holds the force
        # and shows no tracking error until the target changes (up to a hold and a ramp).
        if kind != "actuator_stall":
            assert s["time_to_detect_s"] <= 1.1, kind  # the dropout lasts 1 s
        # SAF-6: zero commanded within 1.5 s of the detection (one tick of slack).
        assert s["time_to_zero_command_s"] - s["time_to_detect_s"] <= 1.52, kind
        if kind != "actuator_stall":  # a stalled winch cannot pay out (zero is commanded)
            assert s["time_to_safe_s"] is not None and s["time_to_safe_s"] <= 4.0, kind
        # The force path may answer a load-cell spike before the policy names it: that stop
        # is the fault's, not a false stop counted against guarding detection.
        assert s["false_stops"] == 0, kind


def test_the_cohort_session_is_the_paced_real_time_session(tmp_path: Path) -> None:
    """One implementation: the cohort's session and the same session run as `session run
    --speed` runs it (paced to the wall clock, recorded) command the same force every tick."""
    spec = SMALL.model_copy(update={"minutes": 1.0})
    person, physics_seed, _ = patient_seeds(spec, 1)
    profile = profile_draw(person)
    proto = first_protocol(spec, profile.weight_kg, "L4/5")
    views: list[TickView] = []
    rec = session_run_virtual(spec, profile, proto, physics_seed, None, 0.0, observe=views.append)
    from spinecare.cohort.run import simulated_table_factory

    done = session_run(
        proto,
        simulated_table_factory(proto, physics_seed, False),
        options=SessionOptions(clock=PacedClock(400.0), fsync=False),
        out_dir=tmp_path / "paced",
    )
    tel = load_telemetry(tmp_path / "paced")
    ours = [round(v.commanded_n, 2) for v in views if not v.ended]
    assert len(ours) == len(tel["commanded_n"]) > 1000
    assert ours == [float(x) for x in tel["commanded_n"]]
    assert rec["peak_force_n"] == done.summary.peak_force_n


def test_compare_pairs_the_same_patients(small_run: tuple[Path, Any], tmp_path: Path) -> None:
    out_a, _ = small_run
    proto = {
        "region": "lumbar",
        "body_weight_kg": 80,
        "segment": "L4/5",
        "peak_force_n": 240,
        "base_force_n": 120,
        "ramp_up_n_s": 15,
        "ramp_down_n_s": 30,
        "traction_minutes": 2,
    }
    pfile = tmp_path / "gentle.json"
    pfile.write_text(json.dumps(proto))
    out_b = tmp_path / "b"
    args = [
        "cohort",
        "run",
        "--protocol",
        str(pfile),
        "--patients",
        "4",
        "--sessions",
        "2",
        "--seed",
        "11",
        "--minutes",
        "2",
        "--chunk",
        "2",
        "--out",
        str(out_b),
        "--json",
    ]
    assert main(args) == 0
    assert (out_b / "report.pdf").stat().st_size > 10_000
    assert main(["cohort", "compare", str(out_a), str(out_b), "--json"]) == 0


def test_compare_interval_covers_a_known_shift() -> None:
    a = [{"patient": i, "sessions": [_session(10.0 + i)]} for i in range(30)]
    b = [{"patient": i, "sessions": [_session(12.0 + i)]} for i in range(30)]
    row = next(r for r in cohort_compare(a, b) if r["metric"] == "peak_force_pct_bw")
    assert math.isclose(row["difference"], 2.0)
    assert row["ci_low"] <= 2.0 <= row["ci_high"] and row["significant"]


def _session(peak: float) -> dict[str, Any]:
    return {
        "peak_force_pct_bw": peak,
        "peak_target_pct_bw": peak,
        "hold_rel_error": 0.01,
        "time_at_target_s": 60.0,
        "guarding_detected": 1,
        "false_stops": 0,
        "target_axial_n": 100.0,
        "elongation_max_mm": 5.0,
        "limit_violations": 0,
    }


def test_bad_input_is_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["cohort", "run", "--patients", "2", "--out", str(tmp_path / "x")]
    assert main([*base, "--protocol", "thoracic-default"]) == 2
    assert main([*base, "--protocol", "lumbar-default", "--faults", "meteor"]) == 2
    # the traction time's own range: 50 min was let through and then refused by the protocol
    capsys.readouterr()
    assert main([*base, "--protocol", "lumbar-default", "--minutes", "50"]) == 2
    assert "minutes: must be between 1 and 45" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "region": "lumbar",
                "body_weight_kg": 80,
                "segment": "L4/5",
                "peak_force_n": 900,
                "base_force_n": 100,
                "ramp_up_n_s": 15,
                "ramp_down_n_s": 30,
            }
        )
    )
    assert main([*base, "--protocol", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "protocol" in err
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)  # past Python's recursion limit
    assert main([*base, "--protocol", str(deep)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "protocol" in err and len(err.strip().splitlines()) == 1


def test_the_text_summary_says_n_a_where_a_run_has_no_figure(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A run of faulted sessions has no completed hold, and a stalled winch never goes slack."""
    from spinecare.cli.cohort import _print_text

    summary = {
        "patient_sessions": 2,
        "patients": 2,
        "screened_out": 0,
        "completed": 0,
        "limit_violations": 0,
        "peak_force_pct_bw_max": 41.2,
        "hold_tracking_error_pct_mean": None,
        "guarding_recall": None,
        "guarding_true": 0,
        "false_stops_per_session": 0.0,
        "faults": [
            {"fault": "actuator_stall", "released": 2, "sessions": 2}
            | {"time_to_safe_s_p50": None, "time_to_safe_s_max": None}
        ],
        "run": {"sessions_computed": 2, "wall_s": 1.0, "sessions_per_s": 2.0}
        | {"scheduler": "in-process", "workers": 1, "chunks_resumed": 0},
    }
    _print_text(summary, tmp_path)
    out = capsys.readouterr().out
    assert "None" not in out
    assert "hold tracking error n/a" in out and "p50 n/a, max n/a" in out


def test_the_example_protocol_file_of_the_readme_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "protocol-lumbar-80kg.json"
    out = str(tmp_path / "x")
    args = ["cohort", "run", "--protocol", str(example), "--patients", "2", "--sessions", "1",
            "--minutes", "2", "--workers", "1", "--no-report", "--out", out]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
