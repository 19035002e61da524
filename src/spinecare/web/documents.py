"""All of a course's documents in one download: the set ``spinecare documents course ID --out
DIR`` writes (consent, estimate, issued invoices and credit notes, a report per session that
ran, the course report), with the same file names and renderers, packed as one zip. (The web may
not import the CLI, so the list of files is repeated here; keep it in step with
``cli/documents.py::_course_files``.)

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
    from spinecare.services.documents import course_documents

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
            for file_name, render in _course_files(docs, lang):
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


Render = Any  # (tmp_path, clinic, template_dir) -> None


def _course_files(docs: Any, lang: str) -> list[tuple[str, Render]]:
    """(file name, renderer) for each document of the course, as the CLI names them."""
    from spinecare.billing import Insurance
    from spinecare.reports.course_report import render_course_report
    from spinecare.reports.documents import (
        CostEstimate,
        render_consent,
        render_estimate,
        render_invoice,
    )
    from spinecare.reports.session_report import render_session_report
    from spinecare.services.patients import postal_address

    p, c = docs.patient, docs.course
    address = postal_address(p)
    region = c.region.value

    def consent(tmp: Path, clinic: Any, tdir: Path | None) -> None:
        render_consent(
            region,
            tmp,
            clinic=clinic,
            patient_name=p.name,
            birth_date=p.birth_date,
            patient_address=address,
            lang=lang,
            template_dir=tdir,
        )

    def estimate(tmp: Path, clinic: Any, tdir: Path | None) -> None:
        est = CostEstimate(
            region=region,
            sessions=c.planned_sessions,
            insurance=Insurance(p.insurance.value),
            issued_on=c.start_date,
            patient_name=p.name,
            patient_address=address,
            birth_date=p.birth_date,
        )
        render_estimate(est, tmp, clinic=clinic, lang=lang, template_dir=tdir)

    def one(render: Any, item: Any) -> Render:
        def run(tmp: Path, clinic: Any, tdir: Path | None) -> None:
            render(item, tmp, clinic=clinic, lang=lang, template_dir=tdir)

        return run

    files: list[tuple[str, Render]] = [("consent.pdf", consent), ("estimate.pdf", estimate)]
    for inv in docs.invoices:
        kind = "credit-note" if inv.kind.value == "credit_note" else "invoice"
        files.append((f"{kind}-{inv.number}.pdf", one(render_invoice, inv)))
    for s in docs.sessions:
        files.append((f"session-{s.session_number:02d}.pdf", one(render_session_report, s)))
    if docs.course_report is not None:
        files.append(("course-report.pdf", one(render_course_report, docs.course_report)))
    return files
