"""Builders for patient records used across the clinical tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

ON = dt.date(2026, 12, 1)
ALL_CODES = [f"CI-{i:02d}" for i in range(1, 14)]


def clean_patient() -> dict[str, Any]:
    """A 40-year-old woman with every finding answered absent and a normal DXA."""
    return {
        "birth_date": "1986-06-15",
        "sex": "F",
        "weight_kg": 65,
        "pregnant": False,
        "findings": [{"code": c, "present": False} for c in ALL_CODES if c != "CI-03"],
        "bmd": [
            {"site": "femoral_neck", "bmd_g_cm2": 0.85, "z_score": 0.1, "date": "2026-10-01"},
            {"site": "lumbar_spine", "bmd_g_cm2": 1.02, "z_score": -0.2, "date": "2026-10-01"},
        ],
        "fractures": [],
    }


def set_finding(p: dict[str, Any], code: str, **fields: Any) -> dict[str, Any]:
    p["findings"] = [f for f in p["findings"] if f["code"] != code]
    p["findings"].append({"code": code, **fields})
    return p


def drop_finding(p: dict[str, Any], code: str) -> dict[str, Any]:
    p["findings"] = [f for f in p["findings"] if f["code"] != code]
    return p


def days_before(n: int) -> str:
    return (ON - dt.timedelta(days=n)).isoformat()


@pytest.fixture
def patient() -> dict[str, Any]:
    return clean_patient()
