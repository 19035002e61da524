"""numba's disk cache never runs old code: every cached core is keyed on all the cores' sources.

A cached caller carries its callees' code; keyed on its own file only, a changed safety policy
would run in yesterday's batch loop (spinecare/compiled.py).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from spinecare import compiled
from spinecare.cohort.batch import session_loop
from spinecare.sim.table_core import table_read
from spinecare.therapy.controller_core import controller_update
from spinecare.therapy.guarding import guarding_update
from spinecare.therapy.safety import policy_check

SRC = Path(__file__).resolve().parents[1] / "src" / "spinecare"


def test_every_module_that_caches_compiled_code_imports_the_keyed_locator_first() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if ("cache=True" not in text and "jit_core(" not in text) or path.name == "compiled.py":
            continue
        first_jit = re.search(r"njit\(", text)
        keyed = max(
            text.find("import spinecare.compiled"), text.find("from spinecare.compiled import")
        )
        if keyed < 0 or (first_jit is not None and keyed > first_jit.start()):
            offenders.append(str(path.relative_to(SRC)))
    assert not offenders, offenders


def test_the_cores_are_cached_under_the_digest_of_all_compiled_sources() -> None:
    for fn in (session_loop, table_read, controller_update, guarding_update, policy_check):
        locator = fn._cache._impl._locator
        assert type(locator).__module__ == compiled.__name__
        stamp = locator.get_source_stamp()
        assert stamp[1] == compiled.sources_digest()


def test_the_digest_covers_the_physics_the_policy_and_the_constants(tmp_path: Path) -> None:
    """A copy of the package with one changed constant gets another digest."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from spinecare.compiled import sources_digest; print(sources_digest())"
    )
    pkg = tmp_path / "spinecare"
    subprocess.run(["cp", "-r", str(SRC), str(pkg)], check=True)
    before = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    ).stdout
    assert before.strip() == compiled.sources_digest()
    for name in ("quantities.py", "therapy/safety.py", "sim/patient_model.py"):
        f = pkg / name
        f.write_text(f.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
        after = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
        ).stdout
        assert after != before, name
        before = after
