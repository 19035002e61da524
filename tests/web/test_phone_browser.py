"""The pages on a phone held upright (390 x 844, an iPhone 12-15): nothing makes the page itself
scroll sideways (wide tables scroll inside their own box), and the logout stays on screen."""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest

from tests.web.conftest import ARTIFACTS, PASSWORD, Clinic, shot

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

WIDTH, HEIGHT = 390, 844
# Where a run also leaves its screenshots for a person to look at (besides the artifacts).
SHOTS_DIR = os.environ.get("SPINECARE_PHONE_SHOTS", "")


def _pages(clinic: Clinic) -> list[str]:
    return [
        "/",
        "/patients",
        f"/patients/{clinic.patient_id}",
        "/patients/new",
        f"/patients/{clinic.patient_id}/edit",
        f"/courses/{clinic.course_id}",
        f"/sessions/{clinic.done_session_id}",
        f"/sessions/{clinic.planned_session_id}/setup",
        "/invoices",
        "/audit",
        "/users",
        "/account",
    ]


def test_no_page_scrolls_sideways_on_a_phone(page: Any, clinic: Clinic) -> None:
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    page.goto("/login")
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    page.fill("input[name=username]", "physician")
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_url("**/")
    too_wide: list[str] = []
    for url in _pages(clinic):
        page.goto(url)
        page.wait_for_load_state("load")
        name = "phone-" + (url.strip("/").replace("/", "_") or "today")
        shot(page, name)
        if SHOTS_DIR:
            os.makedirs(SHOTS_DIR, exist_ok=True)
            shutil.copy(ARTIFACTS / f"{name}.png", os.path.join(SHOTS_DIR, f"{name}.png"))
        width = page.evaluate("document.documentElement.scrollWidth")
        box = page.locator("form[action='/logout'] button").bounding_box()
        if width > WIDTH:
            too_wide.append(f"{url}: scrollWidth {width}")
        if box is None or box["x"] < 0 or box["x"] + box["width"] > WIDTH:
            too_wide.append(f"{url}: logout at {box}")
    assert not too_wide, too_wide
