"""Errors a use case raises; each edge (CLI, web) maps them to its own status."""

from __future__ import annotations

from spinecare.errors import InputError


class NotFoundError(LookupError):
    """The requested record does not exist (or is soft-deleted)."""

    def __init__(self, entity: str, ident: object) -> None:
        self.entity = entity
        self.ident = ident
        super().__init__(f"{entity} {ident}: not found")


class PermissionDeniedError(PermissionError):
    """The acting user's role does not allow this action."""

    def __init__(self, username: str, role: str, action: str) -> None:
        self.username = username
        self.role = role
        self.action = action
        super().__init__(f"{username} ({role}) may not {action}")


__all__ = ["InputError", "NotFoundError", "PermissionDeniedError"]
