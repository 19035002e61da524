"""The patient form (register and edit): master data as the front desk types it.

The form's strings go to the service's schema unchanged (German dates ``14.05.1961`` and decimal
commas ``80,5`` are read there), so the web accepts what the CLI accepts. A refusal comes back
as one message per field, shown beside that field with everything typed kept, not as an error
page that loses the form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from spinecare.errors import InputError
from spinecare.services.patients import PatientPublic
from spinecare.web.forms import number

M = TypeVar("M", bound=BaseModel)

# Form field -> longest value accepted (the schema's own limits, a little above for the ones it
# checks by pattern, so the schema names the problem).
FIELDS: dict[str, int] = {
    "name": 200,
    "birth_date": 20,
    "sex": 2,
    "weight_kg": 10,
    "height_cm": 10,
    "insurance": 20,
    "menopausal_status": 10,
    "street": 200,
    "postcode": 10,
    "city": 100,
    "country": 10,
    "phone": 40,
    "email": 254,
    "insurer": 200,
    "insurance_number": 40,
    "physician": 200,
}
REQUIRED = ("name", "birth_date", "sex", "weight_kg", "height_cm", "insurance")
# Master data: optional; left empty on an edit it is cleared.
OPTIONAL = tuple(f for f in FIELDS if f not in REQUIRED and f != "menopausal_status")
CHECKBOX = "icd_consent"
NUMBERS = ("weight_kg", "height_cm")


def typed(form: Mapping[str, Any]) -> dict[str, str]:
    """The form's values as typed (stripped), for the schema and for showing them again; a
    value that is not text (a file) reads as empty here and is refused by ``kind_errors``."""
    values = {f: _plain(form.get(f)).strip() for f in FIELDS}
    values[CHECKBOX] = "on" if form.get(CHECKBOX) == "on" else ""
    return values


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else ""


def kind_errors(form: Mapping[str, Any]) -> dict[str, str]:
    """Values no browser sends from this form: a file under a text field's name (its repr
    would be stored as the text), a checkbox other than 'on'."""
    errors: dict[str, str] = {}
    for f in (*FIELDS, CHECKBOX):
        v = form.get(f)
        if v is not None and not isinstance(v, str):
            errors[f] = "expected text, not a file"
    box = form.get(CHECKBOX)
    if isinstance(box, str) and box not in ("", "on"):
        errors[CHECKBOX] = "a checkbox is 'on' or absent"
    return errors


def check_form(values: Mapping[str, str], *, edit: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """(data for PatientCreate/PatientUpdate, errors by field found before the schema)."""
    errors: dict[str, str] = {}
    for f, limit in FIELDS.items():
        if len(values[f]) > limit:
            errors[f] = f"at most {limit} characters"
    for f in REQUIRED:
        if not values[f] and f not in errors:
            errors[f] = "required"
    for f in NUMBERS:
        # Digits 0-9 only: the schema's pattern would read Arabic-Indic digits as a weight.
        try:
            number(values[f], f)
        except InputError as exc:
            errors.setdefault(f, exc.reason)
    data: dict[str, Any] = {f: values[f] for f in REQUIRED}
    data["menopausal_status"] = values["menopausal_status"] or None
    for f in OPTIONAL:
        if values[f] or edit:
            data[f] = values[f] or None
    data[CHECKBOX] = values[CHECKBOX] == "on"
    return data, errors


def validated(schema: type[M], data: dict[str, Any], errors: dict[str, str]) -> M | None:
    """The schema's model, or None with every refusal added to ``errors`` (all fields at
    once, so the front desk mends them in one go)."""
    try:
        model = schema.model_validate(data)
    except ValidationError as exc:
        for field, msg in field_errors(exc).items():
            errors.setdefault(field, msg)
        return None
    return None if errors else model


def field_errors(exc: ValidationError | InputError) -> dict[str, str]:
    """Each refusal under the field it names (a cross-field rule names it first: 'postcode:
    ...'); one with no field at all goes under '' (shown above the form)."""
    if isinstance(exc, InputError):
        return {exc.field if exc.field in FIELDS else "": exc.reason}
    out: dict[str, str] = {}
    for e in exc.errors():
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        loc = e.get("loc") or ()
        field = str(loc[0]) if loc else ""
        if not field:
            head, sep, rest = msg.partition(": ")
            if sep and head in FIELDS:
                field, msg = head, rest
        out.setdefault(field if field in FIELDS or field == CHECKBOX else "", msg)
    return out


def shown(p: PatientPublic, lang: str) -> dict[str, str]:
    """A stored patient's values as the form shows them (German date and comma in German)."""

    def num(v: Any) -> str:
        text = str(v)
        return text.replace(".", ",") if lang == "de" else text

    values = {f: "" if getattr(p, f, None) is None else str(getattr(p, f)) for f in FIELDS}
    values["birth_date"] = p.birth_date.strftime("%d.%m.%Y")
    values["weight_kg"], values["height_cm"] = num(p.weight_kg), num(p.height_cm)
    values["sex"] = p.sex.value
    values["insurance"] = p.insurance.value
    values["menopausal_status"] = p.menopausal_status.value if p.menopausal_status else ""
    values[CHECKBOX] = "on" if p.icd_consent else ""
    return values


def blank() -> dict[str, str]:
    """A new patient: nothing typed; the diagnosis on the invoice ticked (the default)."""
    values = dict.fromkeys(FIELDS, "")
    values[CHECKBOX] = "on"
    return values
