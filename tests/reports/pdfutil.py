"""Helpers for PDF assertions: page count via pypdf, text via poppler's pdftotext."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

DATA = Path(__file__).with_name("data")


def pages(path: Path) -> int:
    return len(PdfReader(str(path)).pages)


def text(path: Path) -> str:
    """Layout-free text of the whole PDF (pdftotext), whitespace collapsed."""
    exe = shutil.which("pdftotext")
    if exe is None:
        pytest.skip("pdftotext missing (apt-get install poppler-utils)")
    out = subprocess.run([exe, "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True)
    return " ".join(out.stdout.decode("utf-8").split())
