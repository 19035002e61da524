"""What only a web server adds to logging in: the CSRF token of a browser session, and a
throttle on the login form for a users service that does not lock accounts itself."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field

CSRF_KEY = "csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def csrf_token(session: dict[str, object]) -> str:
    """The browser session's CSRF token (created on first use)."""
    token = session.get(CSRF_KEY)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session[CSRF_KEY] = token
    return token


def csrf_ok(session: dict[str, object], submitted: str | None) -> bool:
    expected = session.get(CSRF_KEY)
    if not isinstance(expected, str) or not submitted:
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())


@dataclass
class LoginThrottle:
    """Failed logins per username in a sliding window; too many lock the name for a while.

    Kept per username (not per address) so spreading guesses over addresses does not help;
    a locked name answers like a wrong password, so the lock reveals nothing either.
    """

    failures: int
    window_s: float
    lock_s: float
    clock: object = time.monotonic
    _fails: dict[str, deque[float]] = field(default_factory=dict)
    _locked_until: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _now(self) -> float:
        now = self.clock() if callable(self.clock) else time.monotonic()
        return float(now)

    def locked(self, username: str) -> bool:
        key = username.strip().lower()
        with self._lock:
            until = self._locked_until.get(key)
            if until is None:
                return False
            if self._now() >= until:
                del self._locked_until[key]
                self._fails.pop(key, None)
                return False
            return True

    def failed(self, username: str) -> bool:
        """Count a failure; True if the name is now locked."""
        key = username.strip().lower()
        now = self._now()
        with self._lock:
            q = self._fails.setdefault(key, deque())
            q.append(now)
            while q and now - q[0] > self.window_s:
                q.popleft()
            if len(q) >= self.failures:
                self._locked_until[key] = now + self.lock_s
                return True
            return False

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._fails.pop(username.strip().lower(), None)
