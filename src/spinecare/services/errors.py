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


class AuthenticationError(Exception):
    """Who is acting is not established: not logged in, wrong credentials, an expired or
    revoked login, a locked account. ``hint`` says what to do; faces show both, never which
    of username and password was wrong."""

    def __init__(self, reason: str, hint: str = "") -> None:
        self.reason = reason
        self.hint = hint
        super().__init__(f"{reason}{'; ' + hint if hint else ''}")


class PasswordChangeRequired(AuthenticationError):
    """The user logged in with a one-time password and must choose a new one first."""

    def __init__(self, username: str) -> None:
        super().__init__(
            f"{username} must change the one-time password before anything else",
            "run spinecare passwd",
        )
        self.username = username


__all__ = [
    "AuthenticationError",
    "InputError",
    "NotFoundError",
    "PasswordChangeRequired",
    "PermissionDeniedError",
]
