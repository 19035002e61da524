"""All of a course's documents in one download: the set ``spinecare documents course ID --out
DIR`` writes (consent, estimate, issued invoices and credit notes, a report per session that
ran, the course report), with the same file names and renderers (``services.documents
.course_files``), packed as one zip.

Invoices go only to the roles that may bill (the web's invoice PDFs are theirs); anyone else
gets the clinical documents, and a note in the zip says what was left out and why.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from spinecare.services.auth import BILLING_ROLES, Actor


def course_zip(db: Any, actor: Actor, course_id: int, clinic: Any, zone: Any, lang: str) -> Path:
    """The course's documents as a zip in a temporary file (the caller deletes it)."""
    from spinecare.services.documents import course_documents, course_files

    docs = course_documents(db, actor, course_id, zone=zone)
    notes = [f"draft invoice {i}: issue it first, then download again" for i in docs.drafts]
    notes += [
        f"session {i}: its recording is missing; restore it, then download again"
        for i in docs.missing_recordings
    ]
    if actor.role not in BILLING_ROLES and docs.invoices:
        notes.append(f"{len(docs.invoices)} invoice(s): for the billing office and physicians")
        docs = _without_invoices(docs)
    fd, name = tempfile.mkstemp(prefix="spinecare-course-", suffix=".zip")
    os.close(fd)
    out = Path(name)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="spinecare-docs-") as tmp,
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf,
        ):
            for file_name, render in course_files(docs, lang):
                target = Path(tmp) / file_name
                render(target, clinic, None)
                zf.write(target, file_name)
            if notes:
                zf.writestr("not-included.txt", "\n".join(notes) + "\n")
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return out


def _without_invoices(docs: Any) -> Any:
    import dataclasses

    return dataclasses.replace(docs, invoices=())
