"""`spinecare findings ...` and `spinecare screen --patient`: screening a stored patient."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.cli.conftest import add_patient

Run = Callable[..., tuple[int, str, str]]
CODES = [f"CI-{i:02d}" for i in range(1, 14)]


def _screen(cli: Run, pid: str, *extra: str) -> dict[str, object]:
    code, out, err = cli(
        "screen", "--patient", pid, "--region", "lumbar", "--on", "2026-12-01", "--json", *extra
    )
    assert code == 0, err
    result: dict[str, object] = json.loads(out)
    return result


def test_screening_a_stored_patient_from_incomplete_to_not_eligible(cli_doc: Run) -> None:
    pid = add_patient(cli_doc)
    assert _screen(cli_doc, pid)["decision"] == "incomplete"
    for c in CODES:
        code, _, err = cli_doc("findings", "add", "--patient", pid, "--code", c, "--absent")
        assert code == 0, err
    code, _, err = cli_doc("findings", "no-fractures", "--patient", pid, "--on", "2026-11-20")
    assert code == 0, err
    code, _, err = cli_doc(
        "findings", "bmd", "--patient", pid, "--site", "femoral_neck", "--date", "2026-10-01",
        "--bmd", "0.80",
    )  # fmt: skip
    assert code == 0, err
    assert _screen(cli_doc, pid)["decision"] == "eligible"
    # A fresh osteoporotic compression fracture makes her not eligible, with the orthosis advice.
    code, _, err = cli_doc(
        "findings", "fracture", "--patient", pid, "--level", "L1", "--date", "2026-10-15",
        "--kind", "osteoporotic", "--compression",
    )  # fmt: skip
    assert code == 0, err
    result = _screen(cli_doc, pid, "--record")
    assert result["decision"] == "not_eligible"
    codes = {c["code"] for c in result["contraindications"]}  # type: ignore[attr-defined]
    assert {"CI-04", "CI-12"} <= codes
    assert any("rthosis" in r for r in result["recommendations"])  # type: ignore[attr-defined]
    code, out, _ = cli_doc("findings", "list", "--patient", pid, "--json")
    listed = json.loads(out)
    assert len(listed["findings"]) == 13 and listed["fractures"][0]["level"] == "L1"


def test_bad_findings_input(cli_doc: Run) -> None:
    pid = add_patient(cli_doc)
    code, _, err = cli_doc("findings", "add", "--patient", pid, "--code", "CI-99", "--present")
    assert code == 2 and "code" in err
    code, _, err = cli_doc(
        "findings", "bmd", "--patient", pid, "--site", "hip", "--date", "2026-10-01", "--bmd", "0.7"
    )
    assert code == 2 and err.startswith("error: site:")
    code, _, err = cli_doc(
        "findings", "fracture", "--patient", pid, "--level", "L1", "--date", "2099-01-01",
        "--kind", "osteoporotic",
    )  # fmt: skip
    assert code == 2 and "date" in err
    code, _, err = cli_doc("screen", "--region", "lumbar")
    assert code == 2 and "--file or --patient" in err
