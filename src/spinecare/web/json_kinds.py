"""JSON bodies of the API checked for the kind of each value before the schemas read them.

Pydantic's lax mode, which the services' schemas use so that forms and the CLI can hand them
text, also turns JSON ``true`` into the integer 1 (an NRS score, an ODI answer, an id), ``"5"``
into 5, and the number 0 into the date 1970-01-01 (seconds since the epoch). A client that
sends those has made a mistake the clinic should hear about, not a record. This check walks the
body beside the route's JSON schema and refuses, with the field's place and the reason:

- ``true``/``false`` where the schema allows no boolean;
- a number where it allows no number (a date, a time, a text);
- text where it allows only whole numbers or only numbers.

It is the API's check and needs no schema to change; the schemas keep reading form text.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import TypeAdapter

Schema = dict[str, Any]
Path = tuple[str | int, ...]


_SCHEMAS: dict[str, tuple[Schema, Schema] | None] = {}


def _schema_of(route: APIRoute) -> tuple[Schema, Schema] | None:
    """The route's body schema and its definitions (None: no JSON body); built once a route."""
    if route.unique_id not in _SCHEMAS:
        field = route.body_field
        if field is None or field.field_info.annotation is None:
            _SCHEMAS[route.unique_id] = None
        else:
            schema = TypeAdapter(field.field_info.annotation).json_schema(mode="validation")
            _SCHEMAS[route.unique_id] = (schema, schema.get("$defs", {}))
    return _SCHEMAS[route.unique_id]


def _resolve(schema: Schema, defs: Schema) -> Schema:
    while "$ref" in schema:
        schema = defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
    return schema


def _options(schema: Schema, defs: Schema) -> list[Schema]:
    """The alternatives a value may match (a union's members, flattened)."""
    schema = _resolve(schema, defs)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return [o for s in schema[key] for o in _options(s, defs)]
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return _options(schema["allOf"][0], defs)
    return [schema]


def _kinds(options: list[Schema]) -> set[str] | None:
    """The JSON types the options allow; None when one of them allows anything."""
    kinds: set[str] = set()
    for o in options:
        t = o.get("type")
        if t is None:
            if "const" in o or "enum" in o:
                values = [o["const"]] if "const" in o else o["enum"]
                kinds |= {_kind_of(v) for v in values}
                continue
            return None
        kinds |= set(t) if isinstance(t, list) else {t}
    return kinds


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _wrong(value: Any, kinds: set[str], options: list[Schema]) -> str | None:
    """Why ``value`` is of a kind none of the options takes (None: it is not refused here)."""
    kind = _kind_of(value)
    numeric = {"integer", "number"} & kinds
    if kind == "boolean" and "boolean" not in kinds:
        return "expected a number, not true or false" if numeric else "true or false is not allowed"
    if kind in ("integer", "number") and not numeric and "string" in kinds:
        formats = {o.get("format") for o in options if o.get("type") == "string"}
        if formats & {"date", "date-time", "time"}:
            return "expected a date or time as text (YYYY-MM-DD), not a number"
        return "expected text, not a number"
    if kind == "string" and numeric and "string" not in kinds:
        whole = "number" not in kinds
        return f"expected {'a whole number' if whole else 'a number'}, not text"
    return None


def problems(value: Any, schema: Schema, defs: Schema, path: Path = ()) -> list[tuple[Path, str]]:
    """Every value in ``value`` of a kind its place in ``schema`` does not take."""
    options = _options(schema, defs)
    kinds = _kinds(options)
    if kinds is None:
        return []
    reason = _wrong(value, kinds, options)
    if reason is not None:
        return [(path, reason)]
    out: list[tuple[Path, str]] = []
    if isinstance(value, dict):
        for o in options:
            if o.get("type") != "object":
                continue
            props = o.get("properties", {})
            extra = o.get("additionalProperties")
            for key, item in value.items():
                sub = props.get(key, extra if isinstance(extra, dict) else None)
                if sub is not None:
                    out += problems(item, sub, defs, (*path, key))
            break
    elif isinstance(value, list):
        for o in options:
            if o.get("type") == "array" and isinstance(o.get("items"), dict):
                for i, item in enumerate(value):
                    out += problems(item, o["items"], defs, (*path, i))
                break
    return out


async def check_json_kinds(request: Request) -> None:
    """A route dependency of the API: refuse a JSON body whose values are of the wrong kind
    (422, with each field's place and reason, as the schemas' own refusals)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or request.method not in ("POST", "PUT", "PATCH"):
        return
    if not request.headers.get("content-type", "").startswith("application/json"):
        return
    found = _schema_of(route)
    if found is None:
        return
    try:
        body = await request.json()
    except (ValueError, RecursionError):
        return  # not JSON (or nested past the parser): FastAPI's own parse refuses it
    errors = [
        {"loc": ("body", *path), "msg": reason, "type": "wrong_kind", "input": None}
        for path, reason in problems(body, *found)
    ]
    if errors:
        raise RequestValidationError(errors)
