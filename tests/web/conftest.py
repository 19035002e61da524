"""Web fixtures: a demo clinic seeded once per worker (copied per test), one user per role,
signed-in test clients, and a real server on a free port for the browser tests."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from spinecare.store.enums import Role

PASSWORD = "a long test password"
ARTIFACTS = Path(__file__).parent / "artifacts"
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


@dataclass(frozen=True)
class Clinic:
    """Ids of the seeded demo clinic."""

    data_dir: Path
    db_url: str
    patient_id: int  # Erika Mustermann: eligible, course planned, session 1 done
    course_id: int
    done_session_id: int
    planned_session_id: int
    invoice_id: int | None
    prescription_id: int | None = None  # Helga Brandt's orthosis (the demo's pathway)


def _seed(root: Path, template_db: Path) -> Clinic:
    from argon2 import PasswordHasher
    from argon2.profiles import CHEAPEST
    from sqlalchemy import select

    from spinecare.services.users import UserCreate, actor_for, create_user
    from spinecare.settings import Settings
    from spinecare.store import open_store
    from spinecare.store.billing_models import Invoice
    from spinecare.store.models import (
        Course,
        OrthosisPrescription,
        Patient,
        TreatmentSession,
        User,
    )
    from spinecare.web.accounts import FIRST_ADMIN, bootstrap_admin
    from spinecare.web.demo import seed_demo

    data_dir = root / "data"
    data_dir.mkdir(parents=True)
    db_path = root / "clinic.db"
    shutil.copyfile(template_db, db_path)
    url = f"sqlite:///{db_path}"
    settings = Settings(data_dir=data_dir, database_url=url)
    store = open_store(settings)
    with store.unit_of_work() as db:
        bootstrap_admin(db)
    with store.unit_of_work("test-setup") as db:
        admin_row = db.scalar(select(User).where(User.username == FIRST_ADMIN))
        assert admin_row is not None
        admin_row.password_hash = PasswordHasher.from_parameters(CHEAPEST).hash(PASSWORD)
        admin_row.must_change_password = False
    with store.unit_of_work() as db:
        admin = actor_for(db, FIRST_ADMIN)
        for role in (Role.PHYSICIAN, Role.THERAPIST, Role.BILLING):
            create_user(
                db, admin, UserCreate(username=role.value, role=role, password=SecretStr(PASSWORD))
            )
            # as after the user's own first login (the password given at creation is one-time)
            row = db.scalar(select(User).where(User.username == role.value))
            assert row is not None
            row.must_change_password = False
    seed_demo(store, settings, admin)
    with store.session() as db:
        erika = db.scalar(select(Patient).where(Patient.name == "Erika Mustermann"))
        assert erika is not None
        course = db.scalar(select(Course).where(Course.patient_id == erika.id))
        assert course is not None
        sessions = db.scalars(
            select(TreatmentSession)
            .where(TreatmentSession.course_id == course.id)
            .order_by(TreatmentSession.number)
        ).all()
        invoice = db.scalar(select(Invoice.id).where(Invoice.patient_id == erika.id))
        rx = db.scalar(select(OrthosisPrescription.id))
        clinic = Clinic(
            data_dir, url, erika.id, course.id, sessions[0].id, sessions[1].id, invoice, rx
        )
    store.dispose()
    return clinic


@pytest.fixture(scope="session")
def _clinic_template(tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path) -> Clinic:
    return _seed(tmp_path_factory.mktemp("clinic"), _sqlite_template)


@pytest.fixture
def clinic(_clinic_template: Clinic, tmp_path: Path) -> Clinic:
    """A private copy of the seeded clinic (database and data directory)."""
    root = tmp_path / "clinic"
    shutil.copytree(_clinic_template.data_dir, root / "data")
    db = root / "clinic.db"
    shutil.copyfile(_clinic_template.db_url.removeprefix("sqlite:///"), db)
    return Clinic(
        root / "data",
        f"sqlite:///{db}",
        _clinic_template.patient_id,
        _clinic_template.course_id,
        _clinic_template.done_session_id,
        _clinic_template.planned_session_id,
        _clinic_template.invoice_id,
        _clinic_template.prescription_id,
    )


@pytest.fixture
def app(clinic: Clinic) -> Iterator[Any]:
    from spinecare.settings import Settings
    from spinecare.store import open_store
    from spinecare.web.app import create_app

    settings = Settings(data_dir=clinic.data_dir, database_url=clinic.db_url)
    store = open_store(settings)
    application = create_app(settings, store=store)
    yield application
    application.state.ctx.live.stop_all("test over")
    store.dispose()


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, "no CSRF token on the page"
    return m.group(1)


@dataclass
class Browser:
    """A TestClient with the CSRF token of its session."""

    client: TestClient
    csrf: str

    def post(self, url: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        return self.client.post(url, data={**(data or {}), "csrf_token": self.csrf}, **kw)

    def api(self, method: str, url: str, **kw: Any) -> Any:
        headers = {"X-CSRF-Token": self.csrf, **kw.pop("headers", {})}
        return self.client.request(method, url, headers=headers, **kw)


@pytest.fixture
def login(app: Any) -> Iterator[Callable[[str | None], Browser]]:
    """``login("physician")`` -> a signed-in client; ``login(None)`` -> anonymous."""
    clients: list[TestClient] = []

    def make(username: str | None) -> Browser:
        c = TestClient(app, follow_redirects=False)
        clients.append(c)
        token = csrf_of(c.get("/login").text)
        if username is None:
            return Browser(c, token)
        r = c.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
        assert r.status_code == 303, r.text[:500]
        return Browser(c, csrf_of(c.get("/account").text))

    yield make
    for c in clients:
        c.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(app: Any) -> Iterator[str]:
    """The app on a real uvicorn server in a thread (for the browser); its base URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "server did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def page(server: str) -> Iterator[Any]:
    """Debian's chromium through Playwright at 1280x800, on the test server."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/ensure-system-deps.sh)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        ctx = browser.new_context(
            viewport={"width": 1280, "height": 800}, base_url=server, accept_downloads=True
        )
        pg = ctx.new_page()
        pg.set_default_timeout(15_000)
        yield pg
        browser.close()


def shot(page: Any, name: str) -> None:
    """A screenshot for the artifacts. Chromium under load now and then refuses one
    ("Unable to capture screenshot"): try again; a picture is evidence, not the behaviour."""
    from playwright.sync_api import Error

    for attempt in range(3):
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)
            return
        except Error:
            time.sleep(0.3 * (attempt + 1))


def start_from_setup(page: Any, minutes: str = "3") -> None:
    """Tick the set-up checklist, set the traction time and start: the monitor opens."""
    for item in ("harness_fastened", "stop_switch_in_hand", "contraindications_reconfirmed"):
        page.check(f"input[name={item}]")
    page.fill("input[name=minutes]", minutes)
    page.click("#start-form button.primary")
    page.wait_for_url("**/live/*")


def book_days_ahead(app: Any, session_id: int, days: int) -> None:
    """Move a planned session's booking ``days`` ahead, its length kept (early-run tests)."""
    from datetime import UTC, datetime, timedelta

    from spinecare.store.models import TreatmentSession

    with app.state.ctx.store.unit_of_work("test-setup") as db:
        s = db.get(TreatmentSession, session_id)
        length = s.scheduled_end - s.scheduled_start
        s.scheduled_start = datetime.now(UTC) + timedelta(days=days)
        s.scheduled_end = s.scheduled_start + length
