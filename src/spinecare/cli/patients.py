"""`spinecare patients add|list|show|edit|delete`."""

from __future__ import annotations

from typing import Any

import typer

from spinecare.cli.app import app
from spinecare.cli.db import AS_OPTION, JSON_OPTION, print_json, run_read, run_write
from spinecare.cli.output import echo
from spinecare.services import patients as svc

patients_app = typer.Typer(help="Patients: register, find, show, edit, delete (soft).")
app.add_typer(patients_app, name="patients")

_NONE_WORDS = {"none", "-", ""}


def _given(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _menopausal(value: str | None) -> dict[str, Any]:
    if value is None:
        return {}
    return {"menopausal_status": None if value.strip().lower() in _NONE_WORDS else value}


# Master data options shared by add and edit (None = not given; on edit, "none" clears).
STREET = typer.Option(None, "--street", help="street and house number")
POSTCODE = typer.Option(None, "--postcode", help="postcode (five digits in Germany)")
CITY = typer.Option(None, "--city")
COUNTRY = typer.Option(None, "--country", help="ISO country code; Germany (DE) if not given")
PHONE = typer.Option(None, "--phone")
EMAIL = typer.Option(None, "--email")
INSURER = typer.Option(None, "--insurer", help="the private health insurer's name")
INSURANCE_NUMBER = typer.Option(None, "--insurance-number", help="number with the insurer")
PHYSICIAN = typer.Option(None, "--physician", help="treating physician, as printed")
DIAGNOSIS_HELP = (
    "print the diagnosis on invoices (the default, as private insurers need it); "
    "--no-diagnosis-on-invoice when the patient asked to keep it off"
)


MASTER_KEYS = ("street", "postcode", "city", "country", "phone", "email", "insurer",
               "insurance_number", "physician")  # fmt: skip


def _master(values: dict[str, Any], *, clearing: bool) -> dict[str, Any]:
    """The master-data options given (``locals()`` of add or edit)."""
    out: dict[str, Any] = {}
    for key in MASTER_KEYS:
        value = values[key]
        if value is None:
            continue
        out[key] = None if clearing and value.strip().lower() in _NONE_WORDS else value
    return out


def _line(p: svc.PatientPublic) -> str:
    gone = "  (deleted)" if p.deleted_at else ""
    return (
        f"{p.id:>5}  {p.name:<30} {p.birth_date.isoformat()}  {p.sex.value}  "
        f"{p.weight_kg} kg  {p.insurance.value}{gone}"
    )


@patients_app.command("add")
def add(
    name: str = typer.Option(..., "--name"),
    birth_date: str = typer.Option(..., "--birth-date", help="YYYY-MM-DD or DD.MM.YYYY"),
    sex: str = typer.Option(..., "--sex", help="F | M"),
    weight: str = typer.Option(..., "--weight", help="body weight, kg (80.5 or 80,5)"),
    height: str = typer.Option(..., "--height", help="height, cm"),
    insurance: str = typer.Option(..., "--insurance", help="private | self_payer | statutory"),
    menopausal: str | None = typer.Option(None, "--menopausal", help="pre | peri | post"),
    diagnosis_on_invoice: bool = typer.Option(
        True,
        "--diagnosis-on-invoice/--no-diagnosis-on-invoice",
        "--icd-consent/--no-icd-consent",
        help=DIAGNOSIS_HELP,
    ),
    street: str | None = STREET,
    postcode: str | None = POSTCODE,
    city: str | None = CITY,
    country: str | None = COUNTRY,
    phone: str | None = PHONE,
    email: str | None = EMAIL,
    insurer: str | None = INSURER,
    insurance_number: str | None = INSURANCE_NUMBER,
    physician: str | None = PHYSICIAN,
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Register a patient (dates also as 14.05.1961, decimals also as 80,5)."""
    master = _master(locals(), clearing=False)
    data = svc.PatientCreate.model_validate(
        {
            "name": name,
            "birth_date": birth_date,
            "sex": sex.strip().upper(),
            "weight_kg": weight,
            "height_cm": height,
            "insurance": insurance.strip().lower(),
            "icd_consent": diagnosis_on_invoice,
            **_menopausal(menopausal),
            **master,
        }
    )
    p = run_write(as_user, lambda s, actor, _: svc.add_patient(s, actor, data))
    if as_json:
        print_json(p)
    else:
        echo(f"patient {p.id}: {p.name}")


@patients_app.command("list")
def list_(
    search: str | None = typer.Option(
        None,
        "--search",
        help="part of the name (any case, accents optional), a birth date "
        "(14.03.1962 or 1962-03-14), or an id",
    ),
    deleted: bool = typer.Option(False, "--deleted", help="include deleted patients"),
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List patients (by name): every one found, as the web app's search finds them."""
    from spinecare.services.search import search_patients

    rows = run_read(
        as_user,
        lambda s, actor, _: search_patients(s, actor, search, include_deleted=deleted),
    )
    if as_json:
        print_json(rows)
        return
    for p in rows:
        echo(_line(p))
    if not rows:
        echo("no patients found")


@patients_app.command("show")
def show(
    patient_id: int = typer.Argument(..., metavar="ID"),
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a patient with diagnoses and courses."""
    from spinecare.services import courses as course_svc  # not at import: numpy (start-up)
    from spinecare.services import diagnoses as dx_svc

    def work(s: Any, actor: Any, _: Any) -> dict[str, Any]:
        p = svc.get_patient(s, actor, patient_id)
        return {
            **p.model_dump(mode="json"),
            "diagnoses": [d.model_dump(mode="json") for d in dx_svc.list_diagnoses(s, actor, p.id)],
            "courses": [
                c.model_dump(mode="json", exclude={"sessions", "warnings"})
                for c in course_svc.list_courses(s, actor, p.id)
            ],
        }

    data = run_read(as_user, work)
    if as_json:
        print_json(data)
        return
    echo(f"patient {data['id']}: {data['name']}")
    for key in ("birth_date", "sex", "weight_kg", "height_cm", "menopausal_status", "insurance",
                "insurer", "insurance_number", "physician", "phone", "email"):  # fmt: skip
        if data[key] is not None:
            echo(f"  {key:<18} {data[key]}")
    address = svc.postal_address(svc.PatientPublic.model_validate(data))
    echo(f"  {'address':<18} {', '.join(address) if address else '(none recorded)'}")
    on_invoice = "yes" if data["icd_consent"] else "no (the patient asked to keep it off)"
    echo(f"  {'diagnosis on bill':<18} {on_invoice}")
    for d in data["diagnoses"]:
        echo(f"  diagnosis          {d['icd10']} {d['text']} ({d['diagnosed_on']})")
    for c in data["courses"]:
        echo(
            f"  course {c['id']:<11} {c['region']} {c['segment']}, {c['planned_sessions']} "
            f"sessions from {c['start_date']} ({c['status']})"
        )


@patients_app.command("edit")
def edit(
    patient_id: int = typer.Argument(..., metavar="ID"),
    name: str | None = typer.Option(None, "--name"),
    birth_date: str | None = typer.Option(None, "--birth-date", help="YYYY-MM-DD or DD.MM.YYYY"),
    sex: str | None = typer.Option(None, "--sex"),
    weight: str | None = typer.Option(None, "--weight"),
    height: str | None = typer.Option(None, "--height"),
    insurance: str | None = typer.Option(None, "--insurance"),
    menopausal: str | None = typer.Option(None, "--menopausal", help="pre | peri | post | none"),
    diagnosis_on_invoice: bool | None = typer.Option(
        None,
        "--diagnosis-on-invoice/--no-diagnosis-on-invoice",
        "--icd-consent/--no-icd-consent",
        help="print the diagnosis on invoices, or keep it off at the patient's request",
    ),
    street: str | None = STREET,
    postcode: str | None = POSTCODE,
    city: str | None = CITY,
    country: str | None = COUNTRY,
    phone: str | None = PHONE,
    email: str | None = EMAIL,
    insurer: str | None = INSURER,
    insurance_number: str | None = INSURANCE_NUMBER,
    physician: str | None = PHYSICIAN,
    as_user: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Change a patient's data (`none` clears an address field; the audit log keeps the
    previous values)."""
    master = _master(locals(), clearing=True)
    changes = svc.PatientUpdate.model_validate(
        {
            **_given(
                name=name,
                birth_date=birth_date,
                sex=sex.strip().upper() if sex else None,
                weight_kg=weight,
                height_cm=height,
                insurance=insurance.strip().lower() if insurance else None,
                icd_consent=diagnosis_on_invoice,
            ),
            **_menopausal(menopausal),
            **master,
        }
    )
    p = run_write(as_user, lambda s, actor, _: svc.edit_patient(s, actor, patient_id, changes))
    if as_json:
        print_json(p)
    else:
        echo(_line(p))


@patients_app.command("delete")
def delete(
    patient_id: int = typer.Argument(..., metavar="ID"),
    as_user: str | None = AS_OPTION,
) -> None:
    """Delete a patient (soft: the record and its history are kept)."""
    p = run_write(as_user, lambda s, actor, _: svc.delete_patient(s, actor, patient_id))
    echo(f"patient {p.id} deleted")
