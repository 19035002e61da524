"""Mutation testing of the safety policy and the controller's guarding reaction (``make mutate``).

Why: a safety test that passes whatever the code does proves nothing. Each mutant is a small
change to the code (a comparison flipped, a number moved, an operator swapped); the tests
should fail for every mutant that weakens a requirement. What survives is listed in
``bench/mutation.md`` and explained, one by one, in docs/safety.md ("Mutation testing").

Two passes, on a copy of ``src/``, ``tests/`` and ``pyproject.toml`` in a temporary directory
(nothing in the checkout changes but the report, so this runs the same on a clean clone):

1. mutmut 3 mutates every function and method of ``therapy/safety.py`` and the guarding reaction
   of the controller's compiled core ``therapy/controller_core.py`` (``_start_guarding_impl``,
   ``_end_guarding_impl``, ``_relaxed_impl``, ``_remember_winch_impl``, the GUARD_* branches of
   ``_step_phase_impl`` and the guarding branches of ``_controller_update_impl``), and runs the
   tests that cover each mutated function. Both cores are numba-compiled functions; every test
   runs with NUMBA_DISABLE_JIT=1, so that they run as the Python source mutmut mutated
   (compiled code would never call a mutant). mutmut leaves decorated functions alone, which is
   why the cores are compiled with ``njit(...)(fn)`` instead of ``@njit``.
2. mutmut mutates code inside functions only; the limits of the policy are module constants.
   Each numeric literal of a public module-level constant of ``safety.py`` is therefore moved
   as well (integers by +-1, other numbers by x1.5 and /1.5), by setting the changed value on
   the module before the tests run (uncompiled, so the functions read the changed value).

Not part of ``make test``: it takes several minutes on two shared cores (``make mutate`` runs
it under ``nice``). ``--keep`` keeps the temporary directory (``mutmut show NAME`` there).
"""

from __future__ import annotations

import argparse
import ast
import configparser
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAFETY = "src/spinecare/therapy/safety.py"
CONTROLLER = "src/spinecare/therapy/controller_core.py"
TESTS = (
    "tests/therapy/test_safety.py",
    "tests/runtime/test_guard.py",
    "tests/therapy/test_controller.py",
    "tests/runtime/test_session_faults.py",
    "tests/therapy/test_safety_core.py",
)
# The constants only reach the policy: the tests of the policy, its core, the guard and the
# session.
CONSTANT_TESTS = (TESTS[0], TESTS[1], TESTS[3], TESTS[4])
# Compiled code never calls a mutant: the tests run the compiled functions as Python.
NO_JIT = {"NUMBA_DISABLE_JIT": "1"}
CONTROLLER_FUNCTIONS = (
    "_start_guarding_impl",
    "_end_guarding_impl",
    "_relaxed_impl",
    "_remember_winch_impl",
    "_step_phase_impl",
    "_controller_update_impl",
)
# Of these two only the guarding lines count (the other phases are not this test's subject).
CONTROLLER_SPLIT = ("_step_phase_impl", "_controller_update_impl")
# Functions of safety.py by area of docs/safety.md: the compiled core (``_*_impl``, the Python
# source of each ``policy_*`` function and its helpers) and the wrapper that builds the records.
SAFETY_AREAS = {
    "Constraint.__init__": "clamp chain",
    "Constraint.refuse": "clamp chain",
    "Constraint.tighten_to": "clamp chain",
    "policy_params": "clamp chain",
    "policy_state_new": "clamp chain",
    "_constrain_impl": "clamp chain",
    "_decide_impl": "clamp chain",
    "_tighten_impl": "clamp chain",
    "_record_impl": "clamp chain",
    "SafetyPolicy.__init__": "clamp chain",
    "SafetyPolicy.constrain": "clamp chain",
    "SafetyPolicy.decide": "clamp chain",
    "SafetyPolicy._decision": "clamp chain",
    "_check_impl": "fault checks",
    "_plausible_impl": "fault checks",
    "_hist_push_impl": "fault checks",
    "_hist_span_impl": "fault checks",
    "_max2_impl": "fault checks",
    "fault_detail": "fault checks",
    "SafetyPolicy.check": "fault checks",
    "SafetyPolicy._record_new_faults": "fault checks",
    "_fault_impl": "stop, latch and release",
    "_request_stop_impl": "stop, latch and release",
    "_acknowledge_impl": "stop, latch and release",
    "_release_impl": "stop, latch and release",
    "SafetyPolicy.fault": "stop, latch and release",
    "SafetyPolicy.request_stop": "stop, latch and release",
    "SafetyPolicy.acknowledge": "stop, latch and release",
}
AREA_ORDER = (
    "clamp chain",
    "fault checks",
    "limits (module constants)",
    "stop, latch and release",
    "reporting",
    "controller guarding reaction",
)
GOAL = {"clamp chain": 0.95, "fault checks": 0.95, "limits (module constants)": 0.95}
KILLED = {"killed", "timeout", "caught by type check"}


@dataclass
class Mutant:
    name: str
    area: str
    function: str
    status: str
    line: int
    diff: str  # the changed lines, "- old" / "+ new"

    @property
    def killed(self) -> bool:
        return self.status in KILLED


# --- setup ----------------------------------------------------------------------------------
def prepare(work: Path) -> None:
    """A copy of the sources and tests, and mutmut's configuration for them."""
    for part in ("src", "tests"):
        shutil.copytree(
            ROOT / part, work / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    shutil.copy2(ROOT / "pyproject.toml", work / "pyproject.toml")
    cfg = configparser.ConfigParser()
    cfg["mutmut"] = {
        "source_paths": "src",
        "only_mutate": f"\n{SAFETY}\n{CONTROLLER}",
        "pytest_add_cli_args_test_selection": "\n" + "\n".join(TESTS),
        "pytest_add_cli_args": "\n-p\nno:cacheprovider",
        "use_git_change_detection": "false",
    }
    with (work / "setup.cfg").open("w") as fh:
        cfg.write(fh)


def _mutmut(work: Path, children: int, log: Path, names: list[str]) -> None:
    mutmut = Path(sys.executable).with_name("mutmut")
    cmd = [str(mutmut), "run", "--max-children", str(children), *names]
    env = {**os.environ, **NO_JIT}
    with log.open("a") as out:
        done = subprocess.run(
            cmd, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT, check=False
        )
    if done.returncode != 0:
        sys.exit(f"mutmut failed (exit {done.returncode}); see {log}")


def run_mutmut(work: Path, children: int, log: Path) -> None:
    """Generate the mutants (and the test coverage of each function) with one cheap run, then
    run exactly the mutants of the areas: all of safety.py, and of controller.py those of the
    guarding functions and of the guarding lines of its update and phase step."""
    _mutmut(work, children, log, ["spinecare.therapy.safety.xǁSafetyPolicyǁrequest_stop*"])
    names = [m.name for m in _mutants(work, with_status=False)]
    _mutmut(work, children, log, names)


# --- reading mutmut's results ---------------------------------------------------------------
def _def_lines(path: Path) -> dict[str, tuple[int, int]]:
    """'Class.method' or 'function' -> first and last line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines: dict[str, tuple[int, int]] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            lines[node.name] = (node.lineno, node.end_lineno or node.lineno)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    lines[f"{node.name}.{item.name}"] = (item.lineno, item.end_lineno or 0)
    return lines


def _guarding_lines(path: Path) -> set[int]:
    """Lines of the controller's update and phase step that belong to the guarding reaction:
    the branches that test a GUARD_* phase or the alarm, and any line naming a GUARD_* phase or
    the alarm's rising edge."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source)
    keep: set[int] = set()
    for fn in ast.walk(tree):
        if not (isinstance(fn, ast.FunctionDef) and fn.name in CONTROLLER_SPLIT):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.If):
                test = ast.get_source_segment(source, node.test) or ""
                if "GUARD_" in test or test == "alarm":
                    end = max(s.end_lineno or s.lineno for s in node.body)
                    keep.update(range(node.lineno, end + 1))
        end_fn = fn.end_lineno or fn.lineno
        named = ("GUARD_", "rising", "ALARM_BEFORE")
        keep.update(
            i for i in range(fn.lineno, end_fn + 1) if any(n in lines[i - 1] for n in named)
        )
    return keep


def _locate(diff: str, span: tuple[int, int], source: list[str]) -> tuple[int, str]:
    """File line of the first changed line, and the changed lines, from a function diff.

    The diff counts lines from the start of the function as mutmut prints it (which may
    include comments above the ``def``), so the removed text is looked up in the function's
    lines of the file, nearest to where the diff places it."""
    body = diff.splitlines()
    start = next(i for i, s in enumerate(body) if s.startswith("@@"))
    m = re.match(r"@@ -(\d+)", body[start])
    assert m is not None
    orig = int(m.group(1))
    changed: list[str] = []
    first: tuple[int, str] | None = None
    for s in body[start + 1 :]:
        if s.startswith("-"):
            first = (orig, s[1:].strip()) if first is None else first
            changed.append("- " + s[1:].strip())
            orig += 1
        elif s.startswith("+"):
            changed.append("+ " + s[1:].strip())
        elif first is None:
            orig += 1
    assert first is not None, diff
    guess = span[0] + first[0] - 1
    hits = [i for i in range(span[0], span[1] + 1) if source[i - 1].strip() == first[1]]
    line = min(hits, key=lambda i: abs(i - guess)) if hits else guess
    return line, " / ".join(changed)


def _function_of(mutant: str) -> str:
    """'Class.method' or 'function' from a mutant's name: mutmut calls the mutants of a method
    ``module.xǁClassǁmethod__mutmut_N`` and those of a function ``module.x_function__mutmut_N``."""
    mangled = mutant.rsplit("__mutmut_", 1)[0].rsplit(".", 1)[-1]
    if mangled.startswith("xǁ"):
        return mangled.removeprefix("xǁ").replace("ǁ", ".")
    return mangled.removeprefix("x_")


def _mutants(work: Path, *, with_status: bool = True) -> list[Mutant]:
    """The mutants of the areas, read from mutmut's files (status "not checked" before a run)."""
    cwd = Path.cwd()
    os.chdir(work)
    try:
        from mutmut.mutation.diff_apply import get_diff_for_mutant
        from mutmut.stats import status_by_exit_code

        mutants: list[Mutant] = []
        guarding = _guarding_lines(work / CONTROLLER)
        for rel in (SAFETY, CONTROLLER):
            meta = json.loads((work / "mutants" / (rel + ".meta")).read_text(encoding="utf-8"))
            defs = _def_lines(work / rel)
            source = (work / rel).read_text(encoding="utf-8").splitlines()
            for name, code in sorted(meta["exit_code_by_key"].items()):
                function = _function_of(name)
                if rel == CONTROLLER and function.rsplit(".", 1)[-1] not in CONTROLLER_FUNCTIONS:
                    continue
                line, diff = _locate(get_diff_for_mutant(name, path=rel), defs[function], source)
                if rel == SAFETY:
                    area = SAFETY_AREAS.get(function, "reporting")
                elif function in CONTROLLER_SPLIT and line not in guarding:
                    continue  # the other phases of the controller: not this test's subject
                else:
                    area = "controller guarding reaction"
                status = status_by_exit_code[code] if with_status else "not checked"
                mutants.append(Mutant(name, area, function, status, line, diff))
        return mutants
    finally:
        os.chdir(cwd)


# --- module constants -----------------------------------------------------------------------
PLUGIN = '''
"""Set one mutated module constant of the safety policy before the tests run."""
import json
import os

import spinecare.therapy.safety as safety

spec = json.loads(os.environ["SPINECARE_MUTANT"])
if spec:
    assert hasattr(safety, spec["name"]), spec
    setattr(safety, spec["name"], eval(spec["expr"], vars(safety)))
'''


def constant_mutants(path: Path) -> list[tuple[str, int, str, str]]:
    """(constant, line, description, mutated expression) for each numeric literal moved.

    The limits are the public constants; a private one (``_NO_PROPOSAL``) is plumbing, and the
    core's slot numbers are unpacked from ``range`` (no single name to move)."""
    source = path.read_text(encoding="utf-8")
    out: list[tuple[str, int, str, str]] = []
    for node in ast.parse(source).body:
        if not (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id.isupper()
            and not node.targets[0].id.startswith("_")
        ):
            continue
        name = node.targets[0].id
        literals = [
            c
            for c in ast.walk(node.value)
            if isinstance(c, ast.Constant)
            and isinstance(c.value, int | float)
            and not isinstance(c.value, bool)
        ]
        for lit in literals:
            v = lit.value
            assert isinstance(v, int | float)
            moves = [v + 1, v - 1] if isinstance(v, int) else [v * 1.5, v / 1.5]
            for new in moves:
                lit.value = new
                expr = ast.unparse(node.value)
                lit.value = v
                out.append((name, node.lineno, f"{name}: {v!r} -> {new:.6g}", expr))
    return out


def run_constants(work: Path, children: int) -> list[Mutant]:
    (work / "_spinecare_mutant.py").write_text(PLUGIN, encoding="utf-8")
    env = {**os.environ, **NO_JIT, "PYTHONPATH": f"{work / 'src'}{os.pathsep}{work}"}
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "_spinecare_mutant",
        *CONSTANT_TESTS,
    ]

    def run(spec: dict[str, str]) -> int:
        done = subprocess.run(
            cmd,
            cwd=work,
            env={**env, "SPINECARE_MUTANT": json.dumps(spec)},
            capture_output=True,
            check=False,
            timeout=600,
        )
        return done.returncode

    if run({}) != 0:
        sys.exit("the tests fail without any mutant: fix them first")
    cases = constant_mutants(work / SAFETY)
    with ThreadPoolExecutor(max_workers=children) as pool:
        codes = list(pool.map(lambda c: run({"name": c[0], "expr": c[3]}), cases))
    return [
        Mutant(
            f"{name} #{i}",
            "limits (module constants)",
            name,
            "killed" if code == 1 else ("survived" if code == 0 else f"error {code}"),
            line,
            desc,
        )
        for i, ((name, line, desc, _), code) in enumerate(zip(cases, codes, strict=True))
    ]


# --- report ---------------------------------------------------------------------------------
def report(mutants: list[Mutant], seconds: float, out: Path) -> str:
    by_area: dict[str, list[Mutant]] = {a: [] for a in AREA_ORDER}
    for m in mutants:
        by_area[m.area].append(m)
    versions = f"mutmut {metadata.version('mutmut')}, Python {sys.version.split()[0]}"
    lines = [
        "# Mutation testing: safety policy and guarding reaction",
        "",
        f"Measured {dt.date.today().isoformat()} with `make mutate` (scripts/mutate.py; "
        f"{versions}; {seconds / 60:.1f} min on {os.cpu_count()} cores). Tests: "
        + ", ".join(f"`{t}`" for t in TESTS)
        + '. Every survivor is explained in docs/safety.md, section "Mutation testing".',
        "",
        "| area | killed/total | killed | goal |",
        "|---|---|---|---|",
    ]
    for area, ms in by_area.items():
        if not ms:
            continue
        k = sum(m.killed for m in ms)
        goal = f">= {GOAL[area]:.0%}" if area in GOAL else "-"
        lines.append(f"| {area} | {k}/{len(ms)} | {k / len(ms):.1%} | {goal} |")
    statuses = Counter(m.status for m in mutants)
    lines += ["", "Outcomes: " + ", ".join(f"{s} {n}" for s, n in sorted(statuses.items())), ""]
    for area, ms in by_area.items():
        left = [m for m in ms if not m.killed]
        if not left:
            continue
        lines += [f"## Survivors: {area}", "", "| line | function | status | change |"]
        lines.append("|---|---|---|---|")
        for m in sorted(left, key=lambda m: (m.line, m.name)):
            change = m.diff.replace("|", "\\|")
            lines.append(f"| {m.line} | `{m.function}` | {m.status} | `{change}` |")
        lines.append("")
    text = "\n".join(lines)
    out.write_text(text, encoding="utf-8")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "mutation.md")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    parser.add_argument("--skip-constants", action="store_true")
    args = parser.parse_args(argv)
    start = dt.datetime.now()
    work = Path(tempfile.mkdtemp(prefix="spinecare-mutate-"))
    try:
        prepare(work)
        print(f"mutmut in {work} ...", flush=True)
        run_mutmut(work, args.children, work / "mutmut.log")
        mutants = _mutants(work)
        if not args.skip_constants:
            print("module constants ...", flush=True)
            mutants += run_constants(work, args.children)
        seconds = (dt.datetime.now() - start).total_seconds()
        print(report(mutants, seconds, args.out))
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
