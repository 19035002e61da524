"""Errors that reach a user: always a field and a reason, never a stack trace."""

from __future__ import annotations

from typing import Any


class InputError(ValueError):
    """Bad input at an edge (CLI argument, file, form field, API body)."""

    def __init__(self, field: str, reason: str, value: Any = None) -> None:
        self.field = field
        self.reason = reason
        self.value = value
        shown = "" if value is None else f" (got {value!r})"
        super().__init__(f"{field}: {reason}{shown}")


def describe_validation_error(exc: Any) -> str:
    """One line from a pydantic ValidationError: the first failing field, its reason and value."""
    errors = exc.errors()
    if not errors:
        return str(exc)
    first = errors[0]
    msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    loc = ".".join(str(p) for p in first.get("loc", ()))
    if not loc:
        # A cross-field rule: its message starts with the field it is about ("field: reason").
        return msg + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else "")
    value = first.get("input")
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    shown = "" if isinstance(value, dict) or value is None else f" (got {value!r})"
    return f"{loc}: {msg}{shown}{more}"
