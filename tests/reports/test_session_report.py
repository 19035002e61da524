"""Session and course reports from recorded data."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from pdfutil import DATA, pages, text

from spinecare.errors import InputError
from spinecare.reports.course_report import (
    course_from_sessions,
    load_course_json,
    render_course_report,
)
from spinecare.reports.session_report import (
    SessionEvent,
    SessionReportData,
    event_text,
    load_session_dir,
    render_session_report,
)

SESSION = DATA / "session_lumbar"
TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "spinecare" / "reports" / "templates"


def test_load_session_dir_reads_telemetry_events_and_summary() -> None:
    d = load_session_dir(SESSION)
    assert d.completed and d.patient_name == "Erika Mustermann" and d.session_number == 4
    assert d.target_segment == "L4/5" and d.region == "lumbar"
    assert d.peak_target_n == pytest.approx(360.0)
    assert len(d.guarding_events) == 2
    assert [e.kind for e in d.fault_events] == ["loop_overrun"]
    assert d.pain_before == 6 and d.pain_after == 4
    assert d.duration_s == pytest.approx(1800.0)
    assert 0 < d.time_at_force_s < d.duration_s


def test_missing_summary_marks_the_session_as_not_ended(tmp_path: Path) -> None:
    shutil.copytree(SESSION, tmp_path / "s")
    (tmp_path / "s" / "summary.json").unlink()
    with (tmp_path / "s" / "telemetry.csv").open("a") as fh:
        fh.write("1802.0,0.0")  # a torn last line after a crash
    d = load_session_dir(tmp_path / "s")
    assert not d.completed and len(d.t_s) == 901
    with pytest.raises(InputError, match=r"telemetry\.csv"):
        load_session_dir(tmp_path)


@pytest.mark.parametrize("lang", ["de", "en"])
def test_the_emg_channel_is_listed_when_it_was_not_ready_and_in_the_report_language(
    lang: str,
) -> None:
    # Start-up (settling, calibrating, ready) says nothing; a lost signal mid-session and the
    # return to ready do, in the report's language (the recorder's reason is English).
    def emg(t: float, status: str, reason: str = "") -> SessionEvent:
        return SessionEvent(t, "emg_status", {"status": status, "reason": reason})

    events = (
        emg(0.0, "settling", "EMG settling"),
        emg(0.02, "calibrating", "EMG calibrating on rest"),
        emg(0.2, "active"),
        emg(30.0, "no_signal", "EMG no signal (flat line): check the electrodes"),
        emg(30.1, "calibrating", "EMG calibrating on rest"),
        emg(31.0, "active"),
        SessionEvent(60.0, "session_end", {"reason": "completed"}),
    )
    t = np.arange(3.0)
    d = SessionReportData(t, t, t, events=events)
    assert [(e.t_s, e.detail.get("status")) for e in d.other_events] == [
        (30.0, "no_signal"), (31.0, "active"), (60.0, None)
    ]  # fmt: skip
    texts = json.loads((TEMPLATES / f"texts_{lang}.json").read_text(encoding="utf-8"))
    lost, back = (event_text(e, texts, lang)[1] for e in d.other_events[:2])
    if lang == "de":
        assert lost == "EMG kein Signal: Elektroden prüfen (nur Kraftpfad)"
        assert back == "EMG bereit"
    else:
        assert lost == "EMG no signal: check the electrodes (force path only)"
        assert back == "EMG ready"


def test_every_phase_a_counter_tension_can_come_in_is_named_in_both_languages() -> None:
    from spinecare.therapy.profile import Phase

    for lang in ("de", "en"):
        texts = json.loads((TEMPLATES / f"texts_{lang}.json").read_text(encoding="utf-8"))
        for phase in Phase:
            if phase is not Phase.DONE:
                assert f"phase_{phase.value}" in texts, (lang, phase)
    texts = json.loads((TEMPLATES / "texts_de.json").read_text(encoding="utf-8"))
    e = SessionEvent(41.0, "guarding", {"phase": "rebuild", "source": "emg"})
    assert event_text(e, texts, "de")[1].startswith("Wiederaufbau")


def test_time_at_force_counts_samples_at_90_percent_of_peak_target() -> None:
    t = np.arange(0.0, 10.0, 1.0)
    target = np.full(10, 100.0)
    measured = np.array([0, 50, 89, 90, 95, 100, 100, 80, 95, 0], dtype=float)
    d = SessionReportData(t, target, measured)
    assert d.time_at_force_s == pytest.approx(5.0)  # samples 3,4,5,6,8 (each 1 s)
    with pytest.raises(InputError, match="length"):
        SessionReportData(t, target[:5], measured)


@pytest.mark.slow
def test_session_report_pdf(tmp_path: Path) -> None:
    pdf = render_session_report(load_session_dir(SESSION), tmp_path / "s.pdf")
    assert pages(pdf) == 1
    txt = text(pdf)
    for field in ("Sitzungsbericht", "Sitzung 4", "Erika Mustermann", "L4/5", "360 N",
                  "Gegenspannungen", "Modellschätzung", "10.03.2025",
                  # the protocol in words and units, the fault and events in words
                  "Haltezeit 60 s", "Anstieg 15,0 N/s", "Regelschleife zu langsam",
                  "7:10 min Gegenspannung 45 N über dem Soll, gelöst nach 18,0 s"):  # fmt: skip
        assert field in txt, field
    assert "=" not in txt and "loop_overrun" not in txt and "peak_force_n" not in txt
    # The chart is an embedded raster image.
    from pypdf import PdfReader

    assert any(page.images for page in PdfReader(str(pdf)).pages)


@pytest.mark.slow
def test_course_report_pdf(tmp_path: Path) -> None:
    course = load_course_json(DATA / "course.json")
    assert len(course.sessions) == 15 and course.odi[0].score == 46
    pdf = render_course_report(course, tmp_path / "c.pdf", lang="en")
    assert pages(pdf) == 1  # 15 sessions: charts and both halves of the table on one page
    txt = text(pdf)
    for field in ("Course report", "Force dose per session", "Counter-tension",
                  "ODI", "388 N", "15 / 15"):  # fmt: skip
        assert field in txt, field


def test_course_json_is_validated(tmp_path: Path) -> None:
    bad = json.loads((DATA / "course.json").read_text())
    bad["sessions"][0]["pain_before"] = 12
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(InputError, match="NRS"):
        load_course_json(tmp_path / "bad.json")
    bad["sessions"] = []
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(InputError, match="at least one session"):
        load_course_json(tmp_path / "bad.json")


def test_course_from_recorded_sessions() -> None:
    s = load_session_dir(SESSION)
    c = course_from_sessions([s])
    assert c.sessions[0].number == 4 and c.sessions[0].guarding_count == 2
    assert c.sessions[0].peak_force_n == pytest.approx(s.peak_measured_n)


def test_every_fault_detail_the_policy_words_reads_german() -> None:
    from spinecare.reports.labels import fault_detail as in_lang
    from spinecare.therapy import safety

    kinds = [v for k, v in vars(safety).items() if k.startswith("K_") and isinstance(v, int)]
    worded = 0
    for kind in kinds:
        for a, b in ((45.0, 0.0), (12.5, 1.0), (-30.0, 0.0), (700.0, 600.0)):
            en = safety.fault_detail(kind, a, b)
            if not en:
                continue
            worded += 1
            de = in_lang(en, "de")
            assert de != en and "." not in de.replace("...", ""), (en, de)  # decimal comma
            assert in_lang(en, "en") == en
    assert worded >= 40
    assert in_lang("read failed: OSError(5)", "de") == "Lesen fehlgeschlagen: OSError(5)"


LONG_NAME = "Maria-Theresia Anna-Katharina Freifrau von Hohenzollern-Sigmaringen"


@pytest.mark.slow
def test_a_long_name_wraps_in_its_cell_and_the_report_keeps_its_page(tmp_path: Path) -> None:
    """A 68-character name ran off the page (cells that never wrapped) and spread the other
    column's labels one letter per line over three pages."""
    import dataclasses

    data = dataclasses.replace(load_session_dir(SESSION), patient_name=LONG_NAME)
    pdf = render_session_report(data, tmp_path / "s.pdf")
    assert pages(pdf) == 1
    txt = text(pdf)
    assert "Hohenzollern" in txt and "Sigmaringen" in txt  # whole, on the page
    assert "Höchste Sollkraft" in txt  # the right column's labels read as words
