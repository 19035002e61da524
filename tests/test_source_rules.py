"""Rules about the source that a class of hostile-input defects depends on."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "spinecare"


def test_no_isdigit_before_int() -> None:
    """``'¹'.isdigit()`` is true but ``int('¹')`` raises: the API fuzzer found a 500 this way.

    ``str.isdecimal`` is exactly the set ``int`` accepts, so the source uses that.
    """
    offenders = [
        f"{path.relative_to(SRC)}:{n}"
        for path in sorted(SRC.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\.isdigit\(\)", line)
    ]
    assert not offenders, offenders
