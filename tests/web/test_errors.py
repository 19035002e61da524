"""Error pages: whatever goes wrong, a page in the user's language that says what to do, never
the framework's JSON, a traceback or a record's values."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from spinecare.services import users as user_svc
from tests.web.conftest import Browser


def test_an_unknown_address_and_a_wrong_method_get_the_german_page(login: Any) -> None:
    for who in (None, "therapist"):
        b: Browser = login(who)
        r = b.client.get("/no-such-page")
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
        assert "Nicht gefunden." in r.text and "detail" not in r.text
        r = b.client.get("/static/no-such-file.js")
        assert r.status_code == 404 and "Nicht gefunden." in r.text
    r = b.client.put("/patients/1")
    assert r.status_code == 405 and "nimmt diese Anfrage nicht an" in r.text
    # the API answers in JSON, as before
    r = b.client.get("/api/v1/no-such-thing")
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}


def _admin(app: Any, login: Any) -> TestClient:
    """The admin's client, answering an unexpected exception as the server would (500)."""
    b: Browser = login("admin")
    c = TestClient(app, follow_redirects=False, raise_server_exceptions=False)
    c.cookies = b.client.cookies
    return c


def test_an_internal_error_is_a_german_page_naming_only_the_exception_type(
    app: Any, login: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("Erika Mustermann, born 1962-03-14")

    monkeypatch.setattr(user_svc, "list_users", broken)
    r = _admin(app, login).get("/users")
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/html")
    assert "interner Fehler" in r.text and "RuntimeError" in r.text
    assert "Erika" not in r.text and "Traceback" not in r.text


def test_a_busy_database_is_a_page_saying_try_again(
    app: Any, login: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(*_: object, **__: object) -> None:
        raise OperationalError("SELECT name FROM patients WHERE name = ?", ("Erika",), Exception())

    monkeypatch.setattr(user_svc, "list_users", locked)
    r = _admin(app, login).get("/users")
    assert r.status_code == 503 and "noch einmal" in r.text
    assert "Erika" not in r.text and "SELECT" not in r.text
