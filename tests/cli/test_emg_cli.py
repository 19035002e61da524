"""`spinecare emg detect`: the JSON a reviewer reads, and one clear line for every bad input."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinecare.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"
BICEPS = DATA / "emg-biceps-bursts-1khz.txt"


def _detect(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["emg", "detect", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_lists_each_burst_as_the_loop_would_have_acted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _detect(capsys, str(BICEPS), "--rate", "1000", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["rate_hz"] == 1000.0 and doc["column"] == 2  # default: the last column
    assert len(doc["bursts"]) == 9  # the nine contractions, nothing else
    for b in doc["bursts"]:
        assert set(b) == {"onset_s", "reported_s", "offset_s"}
        assert b["onset_s"] <= b["reported_s"] <= b["offset_s"]
        # reported at the end of a 20 ms tick
        assert b["reported_s"] * 50 == pytest.approx(round(b["reported_s"] * 50), abs=1e-6)
    cal = doc["calibration"]
    # calibrated at 0.22 s; ready when the first contraction rose above that baseline
    first = cal["events"][0]
    assert first["kind"] == "initial" and first["t_s"] == pytest.approx(0.22, abs=0.002)
    assert cal["ready_s"] == pytest.approx(doc["bursts"][0]["reported_s"])


def test_text_output_and_plot(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    png = tmp_path / "bursts.png"
    code, out, _ = _detect(capsys, str(BICEPS), "--rate", "1000", "--plot", str(png))
    assert code == 0
    assert "bursts: 9" in out and "calibration: ready at 1.36 s" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_recording_that_begins_mid_contraction_says_when_it_could_not_detect(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # the biceps recording cut in the middle of its third contraction (8.6 s): the detector
    # first learns the contraction, finds it was activity when it fades, and says so
    lines = [ln for ln in BICEPS.read_text().splitlines() if ln and not ln.startswith("#")]
    cut = tmp_path / "mid.txt"
    cut.write_text("# from 8.612 s\n" + "\n".join(lines[8612:]) + "\n")
    code, out, _ = _detect(capsys, str(cut), "--rate", "1000", "--json")
    assert code == 0
    doc = json.loads(out)
    cal = doc["calibration"]
    assert cal["status_s"].get("unconfirmed", 0.0) > 0.5  # told while re-learning the rest
    assert [e["kind"] for e in cal["events"]][:2] == ["initial", "lowered"]
    assert cal["final_status"] == "ready"
    # never ready on the contraction it began in (it ended at 9.53 s, 0.92 s into the cut)
    assert cal["ready_s"] > 0.92
    # every contraction after the first real rest (the six after 9.4 s in the whole file)
    onsets = [b["onset_s"] + 8.612 for b in doc["bursts"]]
    for start in (11.632, 14.325, 17.144, 20.318, 23.284, 26.264):
        assert any(abs(o - start) < 0.2 for o in onsets), start


def test_a_short_rest_recording_says_its_baseline_was_never_confirmed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # 1.5 s of rest: a baseline is learned at 0.22 s but not yet confirmed (2 s); detection
    # was possible all along, so the line must not claim otherwise
    rest = [ln for ln in (DATA / "emg-real-1khz.txt").read_text().splitlines() if ln[:1] != "#"]
    short = tmp_path / "short.txt"
    short.write_text("\n".join(rest[1000:2500]) + "\n")
    code, out, _ = _detect(capsys, str(short), "--rate", "1000")
    assert code == 0
    assert "calibration: never confirmed (EMG calibrating on rest); initial at 0.22 s" in out
    assert "no detection possible" not in out and "bursts: 0" in out


def test_header_lines_and_a_chosen_column(capsys: pytest.CaptureFixture[str]) -> None:
    uci = DATA / "emg-lowerlimb-uci-5Npie-1khz.txt"  # 7 header lines without '#'
    code, out, _ = _detect(capsys, str(uci), "--rate", "1000", "--column", "3", "--json")
    assert code == 0 and len(json.loads(out)["bursts"]) >= 5


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--rate", "100"], "rate"),
        (["--rate", "nan"], "rate"),
        (["--rate", "1000", "--column", "7"], "column"),
        (["--rate", "1000", "--column", "-1"], "column"),
        (["--rate", "1000", "--plot", "out.pdf"], "plot"),
        ([], "rate"),
    ],
)
def test_bad_arguments_get_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str], args: list[str], field: str
) -> None:
    code, out, err = _detect(capsys, str(BICEPS), *args)
    assert code == 2 and not out
    assert len(err.strip().splitlines()) == 1 and field in err


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "not found"),
        (b"", "no numeric data"),
        (b"\xff\xfe\x00binary", "not a text file"),
        (b"# header\n1 2\n3 4 5\n", "columns"),
        (b"1\n2\nthree\n", "not numeric"),
        (b"nan\n" * 100, "no finite sample"),
        (b"1.0\n2.0\n", "20 ms block"),
    ],
)
def test_bad_files_get_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes | None, reason: str
) -> None:
    path = tmp_path / "rec.txt"
    if content is not None:
        path.write_bytes(content)
    code, out, err = _detect(capsys, str(path), "--rate", "1000")
    assert code == 2 and not out
    assert len(err.strip().splitlines()) == 1 and reason in err


def test_a_directory_without_a_session_record_gets_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = _detect(capsys, str(tmp_path), "--rate", "1000")
    assert code == 2 and not out
    assert len(err.strip().splitlines()) == 1 and "a directory without a session's emg.txt" in err


_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e308, max_value=1e308),
    st.sampled_from([0.0, 2048.0, 1e-300, -1e300]),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.lists(_VALUES, min_size=1, max_size=3), min_size=0, max_size=120),
    width=st.integers(min_value=1, max_value=3),
    sep=st.sampled_from([" ", "\t", ",", ";"]),
    junk=st.text(max_size=40),
)
def test_hostile_tables_never_crash(
    capsys: pytest.CaptureFixture[str],
    rows: list[list[float]],
    width: int,
    sep: str,
    junk: str,
) -> None:
    body = "\n".join(sep.join(repr(v) for v in (r * width)[:width]) for r in rows)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "rec.txt"
        path.write_text(f"# {junk!r}\n{body}\n", encoding="utf-8")
        code, out, err = _detect(capsys, str(path), "--rate", "1000", "--json")
    assert code in (0, 2)
    if code == 2:
        assert not out and len(err.strip().splitlines()) == 1 and err.startswith("error:")
        return
    doc = json.loads(out)
    assert doc["samples"] == len(rows)
    for b in doc["bursts"]:
        assert all(math.isfinite(b[k]) for k in ("onset_s", "reported_s", "offset_s"))
        assert 0.0 <= b["onset_s"] <= b["reported_s"] <= b["offset_s"]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=300))
def test_any_text_is_parsed_or_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], text: str
) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "rec.txt"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        code, _out, err = _detect(capsys, str(path), "--rate", "500")
    assert code in (0, 2)
    if code == 2:
        assert len(err.strip().splitlines()) == 1


def test_a_recording_with_60_hz_hum_says_so_and_finds_the_contractions(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import numpy as np

    from spinecare.signals.textfile import column, parse_table

    x = column(parse_table(BICEPS.read_text(encoding="utf-8")), 2)
    t = np.arange(x.size) / 1000.0
    hum = x + 0.025 * np.sin(2.0 * np.pi * 60.0 * t)  # RMS about 3x the rest's (0.006 mV)
    path = tmp_path / "hum.txt"
    path.write_text("\n".join(f"{v:.6f}" for v in hum) + "\n", encoding="utf-8")
    code, out, _ = _detect(capsys, str(path), "--rate", "1000", "--json")
    assert code == 0
    doc = json.loads(out)
    assert [m["hz"] for m in doc["calibration"]["mains_notches"]] == [60.0]
    assert len(doc["bursts"]) >= 9
    code, out, _ = _detect(capsys, str(path), "--rate", "1000")
    assert code == 0 and "mains interference at 60 Hz" in out
    code, out, _ = _detect(capsys, str(BICEPS), "--rate", "1000", "--json")
    assert json.loads(out)["calibration"]["mains_notches"] == []


def test_a_german_excel_csv_in_windows_1252_reads_as_the_original(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """What Excel in a German locale saves as "CSV": Windows-1252 ("µV" in the header),
    semicolons, the decimal comma. The same bursts as the original text file."""
    code, out, _ = _detect(capsys, str(BICEPS), "--rate", "1000", "--json")
    assert code == 0
    want = json.loads(out)["bursts"]
    from spinecare.signals.textfile import column, parse_table

    x = column(parse_table(BICEPS.read_text(encoding="utf-8")), None)
    lines = ["Zeit s;EMG µV"] + [f"{i / 1000:.3f};{v!r}".replace(".", ",") for i, v in
                                  enumerate(x.tolist())]  # fmt: skip
    path = tmp_path / "Messung.csv"
    path.write_bytes("\r\n".join(lines).encode("cp1252"))
    code, out, err = _detect(capsys, str(path), "--rate", "1000", "--json")
    assert code == 0, err
    assert json.loads(out)["bursts"] == want


def test_below_1_khz_the_narrower_band_is_said(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """500 Hz is accepted, but the 20-450 Hz band ends at 225 Hz there and the detections of
    a low-rate recording may differ: the output says so (SENIAM: 1 kHz or more)."""
    import numpy as np
    from scipy import signal

    x = np.loadtxt(BICEPS, comments="#")[:, 2]
    low = tmp_path / "biceps-500hz.txt"
    np.savetxt(low, signal.resample_poly(x, 1, 2))
    code, out, _ = _detect(capsys, str(low), "--rate", "500")
    assert code == 0 and "at 500 Hz the band-pass ends at 225 Hz" in out
    code, out, _ = _detect(capsys, str(low), "--rate", "500", "--json")
    assert json.loads(out)["band_hz"] == [20.0, 225.0]
    code, out, _ = _detect(capsys, str(BICEPS), "--rate", "1000", "--json")
    assert json.loads(out)["band_hz"] == [20.0, 450.0]
    code, out, _ = _detect(capsys, str(BICEPS), "--rate", "1000")
    assert "band-pass ends" not in out
