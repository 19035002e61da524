"""The web app's own settings (env prefix ``SPINECARE_WEB_``), beside the project's Settings.

The clinic-wide settings (database, data directory, clinic) stay in ``spinecare.settings``; these
are only what a web server adds: the cookie-signing key, cookie flags, how long a browser login
lasts and how many sessions one server runs.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_FILE = "web-secret.key"


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SPINECARE_WEB_", extra="ignore")

    # Signs the session cookie. Empty: a random key is created once in the data directory.
    secret_key: SecretStr = SecretStr("")
    # Send the session cookie only over HTTPS (set it behind a TLS proxy; plain http on
    # 127.0.0.1 needs False).
    cookie_secure: bool = False
    session_max_age_s: int = Field(default=8 * 3600, ge=300, le=7 * 24 * 3600)
    # Sessions running at once on one server (each is one process with its loop thread).
    max_live_sessions: int = Field(default=12, ge=1, le=64)


def secret_key(settings: WebSettings, data_dir: Path) -> str:
    """The configured key, or one generated once and kept (0600) in the data directory so
    browser sessions survive a restart."""
    given = settings.secret_key.get_secret_value()
    if given:
        return given
    path = Path(data_dir) / SECRET_FILE
    if path.is_file():
        key = path.read_text(encoding="utf-8").strip()
        if len(key) >= 32:
            return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(key)
    return key
