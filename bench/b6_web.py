"""B6 (web app): the live monitor's telemetry and a loaded server.

- ``latency_ms_p50/p99``: from the loop's tick (the moment the session published it) to the
  browser's ``EventSource`` handler, in Debian's chromium on the live monitor of one real-time
  session (5 minutes; quick: 20 s). Same machine, same clock. ``fps_*``: charts drawn per
  second by the monitor (uPlot, one draw per animation frame with new ticks).
- ``load.*``: ten simulated sessions at real time at once on one server while an open-loop
  client sends 50 page requests a second (today, patients, a patient, a course): loop overruns
  summed over the ten summaries (goal 0), telemetry lost (ticks the SSE consumers of all ten
  never got, plus rows the recorder could not write; goal 0), and the pages' p50/p99.

The server runs in its own process (``python -m bench.b6_web --serve``) as ``spinecare serve``
would, its loop threads with it; the browser, the SSE consumers and the page client run in this
process and in chromium. Run it with ``nice``: the figures are for a shared 2-core machine.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

# The web app's goals (issue 9, "Benchmarks"): telemetry within 100 ms at p99, 25 frames a
# second or more, no loop overrun and no telemetry lost with ten sessions and 50 requests/s.
GOALS: dict[str, tuple[str, float]] = {
    "latency_ms_p99": ("<=", 100.0),
    "fps_mean": (">=", 25.0),
    "load.loop_overruns": ("<=", 0),
    "load.telemetry_lost": ("<=", 0),
}
PASSWORD = "bench password 123"
CHROMIUM = "/usr/bin/chromium"
SESSIONS = 10
REQUESTS_PER_S = 50.0


def _pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return round(s[min(len(s) - 1, int(q * len(s)))], 2)


def _seed(data_dir: Path, patients: int) -> list[int]:
    """A clinic with ``patients`` eligible patients, each with a planned course; returns the
    first planned session of each."""
    from datetime import date

    from argon2 import PasswordHasher
    from pydantic import SecretStr
    from sqlalchemy import select

    from spinecare.clinical.findings import CI_CODES, Finding
    from spinecare.services import courses, findings
    from spinecare.services import patients as patient_svc
    from spinecare.services.users import UserCreate, actor_for, create_user
    from spinecare.settings import Settings
    from spinecare.store import open_store
    from spinecare.store.enums import Role
    from spinecare.store.models import User
    from spinecare.vocab import Region
    from spinecare.web.accounts import FIRST_ADMIN, bootstrap_admin

    settings = Settings(data_dir=data_dir)
    store = open_store(settings)
    with store.unit_of_work() as db:
        bootstrap_admin(db)
    with store.unit_of_work("bench-setup") as db:
        admin = db.scalar(select(User).where(User.username == FIRST_ADMIN))
        assert admin is not None
        admin.password_hash = PasswordHasher().hash(PASSWORD)
        admin.must_change_password = False
    first: list[int] = []
    with store.unit_of_work() as db:
        actor = actor_for(db, FIRST_ADMIN)
        create_user(
            db, actor, UserCreate(username="doc", role=Role.PHYSICIAN, password=SecretStr(PASSWORD))
        )
        for i in range(patients):
            p = patient_svc.add_patient(
                db,
                actor,
                patient_svc.PatientCreate.model_validate(
                    {
                        "name": f"Bench Patient {i:02d}",
                        "birth_date": date(1960 + i, 1, 15),
                        "sex": "M",
                        "weight_kg": 70 + i,
                        "height_cm": 178,
                        "insurance": "private",
                    }
                ),
            )
            for code in CI_CODES:
                findings.record_finding(db, actor, p.id, Finding(code=code, present=False))
            findings.record_fracture_history(db, actor, p.id, date.today())
            c = courses.plan_course(
                db,
                actor,
                courses.CoursePlan(
                    patient_id=p.id,
                    region=Region.LUMBAR,
                    segment="L4/5",
                    sessions=15,
                    per_week=3,
                    start=date.today(),
                ),
                clinic=settings.clinic,
            )
            first.append(c.sessions[0].id)
    store.dispose()
    return first


def _serve(data_dir: str, port: int) -> None:
    import uvicorn

    from spinecare.settings import Settings
    from spinecare.web.app import create_app, tune_interpreter
    from spinecare.web.config import WebSettings

    if os.environ.get("B6_UNTUNED") != "1":  # as `spinecare serve` does (B6_UNTUNED=1: not)
        tune_interpreter()
    settings = Settings(data_dir=Path(data_dir))
    app = create_app(settings, web=WebSettings(max_live_sessions=SESSIONS + 2))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Client:
    """A signed-in HTTP client (cookie session and CSRF token)."""

    def __init__(self, base: str) -> None:
        import re

        import httpx

        self.http = httpx.Client(base_url=base, timeout=30.0, follow_redirects=False)
        token = re.search(r'name="csrf-token" content="([^"]+)"', self.http.get("/login").text)
        assert token
        r = self.http.post(
            "/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token.group(1)}
        )
        assert r.status_code == 303, r.text[:300]
        page = self.http.get("/account").text
        m = re.search(r'name="csrf-token" content="([^"]+)"', page)
        assert m
        self.csrf = m.group(1)

    def start(self, session_id: int, minutes: float) -> None:
        r = self.http.post(
            f"/api/v1/sessions/{session_id}/start",
            headers={"X-CSRF-Token": self.csrf},
            json={
                "minutes": minutes,
                "harness_fastened": True,
                "stop_switch_in_hand": True,
                "contraindications_reconfirmed": True,
            },
        )
        assert r.status_code == 201, r.text[:300]


def _wait_up(base: str, proc: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            httpx.get(base + "/login", timeout=2.0)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("the server did not come up")


def _sse_latency(
    base: str, cookies: Any, session_id: int, stop: threading.Event, out: list[float]
) -> None:
    """Tick to arrival at a plain SSE client in this process: the server's part of the
    latency, without the browser's."""
    import httpx

    since = time.time() * 1000.0  # the catch-up (the last 30 s) is not latency
    with (
        httpx.Client(base_url=base, cookies=cookies, timeout=None) as c,
        c.stream("GET", f"/live/{session_id}/stream") as r,
    ):
        event = ""
        for line in r.iter_lines():
            if stop.is_set():
                return
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "ticks":
                now = time.time() * 1000.0
                rows = json.loads(line[5:])["rows"]
                out.extend(now - row[1] for row in rows if row[1] >= since)


def _browser_latency(
    base: str, session_id: int, seconds: float, cookies: Any = None
) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    sse: list[float] = []
    stop = threading.Event()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(base + "/login")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.click("button.primary")
        page.wait_for_url("**/")
        page.goto(f"{base}/live/{session_id}")
        page.wait_for_function(
            "window.__spinecare && window.__spinecare.rows > 100", timeout=60_000
        )
        page.evaluate("window.__spinecare.latencies = []; window.__spinecare.fpsSamples = []")
        watcher = threading.Thread(
            target=_sse_latency, args=(base, cookies, session_id, stop, sse), daemon=True
        )
        if cookies is not None:
            watcher.start()
        time.sleep(seconds)
        stats = page.evaluate("window.__spinecare")
        stop.set()
        browser.close()
    lat = [float(x) for x in stats["latencies"]]
    fps = [float(x) for x in stats["fpsSamples"]][1:]
    return {
        "latency_ms_p50": _pct(lat, 0.5),
        "latency_ms_p99": _pct(lat, 0.99),
        "latency_ms_max": round(max(lat), 1) if lat else None,
        "latency_samples": len(lat),
        "fps_mean": round(statistics.fmean(fps), 1) if fps else 0.0,
        "fps_min": min(fps) if fps else 0.0,
        "browser_gaps": stats["gaps"],
        "server_latency_ms_p50": _pct(sse, 0.5),
        "server_latency_ms_p99": _pct(sse, 0.99),
    }


def _sse_consumer(base: str, cookies: Any, session_id: int, out: dict[int, dict[str, int]]) -> None:
    """Count the ticks of one session over SSE and the sequence numbers it never saw; like a
    browser, reconnect with ``Last-Event-ID`` when the stream breaks."""
    import httpx

    got = {"rows": 0, "gaps": 0, "lost": 0, "reconnects": 0}
    out[session_id] = got
    last = 0
    deadline = time.monotonic() + 3600
    while time.monotonic() < deadline:
        headers = {"Last-Event-ID": str(last)} if last else {}
        try:
            with (
                httpx.Client(base_url=base, cookies=cookies, timeout=None) as c,
                c.stream("GET", f"/live/{session_id}/stream", headers=headers) as r,
            ):
                event = ""
                for line in r.iter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:") and event == "ticks":
                        msg = json.loads(line[5:])
                        got["lost"] += msg["lost"]
                        for row in msg["rows"]:
                            if last and row[0] != last + 1:
                                got["gaps"] += row[0] - last - 1
                            last = row[0]
                            got["rows"] += 1
                    elif line.startswith("data:") and event == "end":
                        return
        except httpx.HTTPError:
            pass
        got["reconnects"] += 1
        time.sleep(0.2)


def _page_load(
    base: str,
    cookies: Any,
    urls: list[str],
    stop: threading.Event,
    lat: list[float],
    errors: list[int],
) -> None:
    """Open loop: a request every 1/50 s over four worker threads, latency per request."""
    import httpx

    period = 1.0 / REQUESTS_PER_S
    workers = 4
    lock = threading.Lock()
    k = [0]

    def worker() -> None:
        with httpx.Client(base_url=base, cookies=cookies, timeout=30.0) as c:
            t0 = time.perf_counter()
            while not stop.is_set():
                with lock:
                    i = k[0]
                    k[0] += 1
                due = t0 + i * period
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                s = time.perf_counter()
                r = c.get(urls[i % len(urls)])
                lat.append((time.perf_counter() - s) * 1000.0)
                if r.status_code != 200:
                    errors.append(r.status_code)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def run(quick: bool = False) -> dict[str, Any]:
    latency_s = 20.0 if quick else 300.0
    load_minutes = 0.5 if quick else 3.0
    root = Path(tempfile.mkdtemp(prefix="spinecare-b6-"))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "SPINECARE_DATA_DIR": str(root)}
    env.pop("SPINECARE_DATABASE_URL", None)
    os.environ["SPINECARE_DATA_DIR"] = str(root)
    first = _seed(root, SESSIONS + 1)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.b6_web", "--serve", str(root), str(port)],
        env=env,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        _wait_up(base, proc)
        client = _Client(base)
        # 1. latency and frames per second: one real-time session, watched in chromium
        client.start(first[0], minutes=latency_s / 60.0 + 1.0)
        load_before = [round(x, 2) for x in os.getloadavg()]
        out: dict[str, Any] = _browser_latency(base, first[0], latency_s, client.http.cookies)
        out["loadavg_latency"] = {
            "before": load_before,
            "after": [round(x, 2) for x in os.getloadavg()],
        }
        client.http.post(f"/api/v1/sessions/{first[0]}/stop", headers={"X-CSRF-Token": client.csrf})
        time.sleep(3.0)
        # 2. ten real-time sessions at once, 50 page requests a second
        ids = first[1 : SESSIONS + 1]
        seen: dict[int, dict[str, int]] = {}
        consumers = []
        for sid in ids:
            client.start(sid, minutes=load_minutes)
            t = threading.Thread(
                target=_sse_consumer, args=(base, client.http.cookies, sid, seen), daemon=True
            )
            t.start()
            consumers.append(t)
        pages = ["/", "/patients", "/patients/1", "/courses/1", "/patients?q=bench"]
        stop = threading.Event()
        lat: list[float] = []
        errors: list[int] = []
        loader = threading.Thread(
            target=_page_load, args=(base, client.http.cookies, pages, stop, lat, errors)
        )
        t_load = time.perf_counter()
        loader.start()
        deadline = time.monotonic() + load_minutes * 60 + 180
        while time.monotonic() < deadline:
            time.sleep(2.0)
            live = [client.http.get(f"/api/v1/sessions/{sid}/live").json() for sid in ids]
            if not any(x.get("running") for x in live):
                break
        stop.set()
        for t in consumers:
            t.join(timeout=30)
        loader.join()
        load_s = time.perf_counter() - t_load
        load_after = [round(x, 2) for x in os.getloadavg()]
        time.sleep(2.0)
        overruns = 0
        skipped = 0
        lost_rows = 0
        ticks = 0
        ends: dict[str, int] = {}
        for sid in ids:
            s = client.http.get(f"/api/v1/sessions/{sid}").json()
            summary = s.get("summary") or {}
            timing = summary.get("timing", {})
            overruns += int(timing.get("overruns", 0))
            skipped += int(timing.get("skipped_ticks", 0))
            ticks += int(timing.get("ticks", 0))
            reason = str(summary.get("end_reason", s.get("status")))
            ends[reason] = ends.get(reason, 0) + 1
            if not summary.get("telemetry_complete", False):
                lost_rows += 1
        lost_sse = sum(v["gaps"] + v["lost"] for v in seen.values())
        out["load"] = {
            "sessions": len(ids),
            "session_minutes": load_minutes,
            "loop_ticks": ticks,
            "loop_overruns": overruns,
            "loop_skipped_ticks": skipped,
            "end_reasons": ends,
            "sse_reconnects": sum(v["reconnects"] for v in seen.values()),
            "telemetry_lost": lost_sse + lost_rows,
            "sse_rows": sum(v["rows"] for v in seen.values()),
            "page_requests": len(lat),
            "page_requests_per_s": round(len(lat) / load_s, 1),
            "page_errors": len(errors),
            "page_ms_p50": _pct(lat, 0.5),
            "page_ms_p99": _pct(lat, 0.99),
            "loadavg_after": load_after,
        }
        out["server_priority_raised"] = os.environ.get("B6_UNTUNED") != "1"
        return out
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        _serve(sys.argv[2], int(sys.argv[3]))
    else:
        print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
