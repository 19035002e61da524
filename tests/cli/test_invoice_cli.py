"""`spinecare invoice quote`."""

from __future__ import annotations

import json

import pytest

from spinecare.cli import main


def test_quote_json_lumbar(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invoice", "quote", "--region", "lumbar", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total"] == "70.68"
    assert [(i["number"], i["analog_of"], i["factor"], i["points"], i["amount"])
            for i in out["items"]] == [
        ("538", None, "1.8", "40", "4.20"),
        ("516", "516", "1.8", "65", "6.82"),
        ("652", "652", "2.3", "445", "59.66"),
    ]  # fmt: skip


def test_quote_course_and_self_payer(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invoice", "quote", "--region", "cervical", "--sessions", "15", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["session_total"] == "66.48" and out["total"] == "997.20"
    assert main(["invoice", "quote", "--region", "lumbar", "--self-payer", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == "56.55"


def test_quote_with_justified_factor(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["invoice", "quote", "--region", "lumbar", "--factor", "652=2.5",
            "--justification", "652=erhöhter Zeitaufwand", "--json"]  # fmt: skip
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["items"][2]["amount"] == "64.84"
    assert out["items"][2]["justification"] == "erhöhter Zeitaufwand"
    assert out["total"] == "75.86"


def test_quote_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invoice", "quote", "--region", "lumbar"]) == 0
    out = capsys.readouterr().out
    assert "652 analog" in out and "70.68 EUR" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--factor", "652=3.6"], "factor 3.6"),
        (["--factor", "538=2.6"], "factor 2.6"),
        (["--factor", "652=2.5"], "justification"),
        (["--factor", "999=1.0"], "unknown GOÄ item"),
        (["--factor", "652=2.3001"], "not be exact"),
        (["--factor", "652"], "ITEM=VALUE"),
        (["--sessions", "0"], "sessions"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["invoice", "quote", "--region", "lumbar", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_bad_region(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invoice", "quote", "--region", "thoracic"]) == 2
    assert "region" in capsys.readouterr().err
