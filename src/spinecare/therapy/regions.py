"""Treated regions, their movement segments and table types."""

from __future__ import annotations

import enum


class Region(enum.StrEnum):
    LUMBAR = "lumbar"
    CERVICAL = "cervical"


class TableType(enum.StrEnum):
    """Split tables let the lower section roll, removing most friction (Lee & Evans 2001)."""

    SPLIT = "split"
    FIXED = "fixed"


LUMBAR_SEGMENTS: tuple[str, ...] = ("L1/2", "L2/3", "L3/4", "L4/5", "L5/S1")
CERVICAL_SEGMENTS: tuple[str, ...] = ("C2/3", "C3/4", "C4/5", "C5/6", "C6/7", "C7/T1")

SEGMENTS: dict[Region, tuple[str, ...]] = {
    Region.LUMBAR: LUMBAR_SEGMENTS,
    Region.CERVICAL: CERVICAL_SEGMENTS,
}


def normalise_segment(text: str) -> str:
    """Accept 'L4/5', 'l4-5', 'L4-L5', 'L5-S1' and return the canonical 'L4/5' form."""
    t = text.strip().upper().replace(" ", "").replace("-", "/")
    if "/" in t:
        upper, lower = t.split("/", 1)
        if len(lower) >= 2 and lower[0] == upper[0] and lower[1:].isdigit():
            lower = lower[1:]  # L4/L5 -> L4/5 (same letter)
        t = f"{upper}/{lower}"
    return t


def region_of_segment(segment: str) -> Region | None:
    seg = normalise_segment(segment)
    for region, names in SEGMENTS.items():
        if seg in names:
            return region
    return None
