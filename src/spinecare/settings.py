"""One validated Settings object for the whole application (env prefix ``SPINECARE_``).

Everything that differs between a developer laptop, CI and a clinic install lives here, read
once from the environment (or a ``.env`` file) and validated, so a typo fails at start-up with
the field's name instead of deep inside a session. Hard safety limits are *not* settings: they
are constants in ``therapy/safety.py``.

Nested values use a double underscore: ``SPINECARE_CLINIC__FEDERAL_STATE=BY``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from spinecare.clinical.screening_settings import ScreeningSettings

APP_NAME = "spinecare"

# German federal states (ISO 3166-2:DE subdivision codes [iso3166-2]), as the `holidays` package
# names them.
FEDERAL_STATES: tuple[str, ...] = (
    "BB", "BE", "BW", "BY", "HB", "HE", "HH", "MV",
    "NI", "NW", "RP", "SH", "SL", "SN", "ST", "TH",
)  # fmt: skip


def default_data_dir() -> Path:
    """Per-user data directory, e.g. ``~/.local/share/spinecare`` on Linux."""
    return Path(platformdirs.user_data_dir(APP_NAME))


class ClinicSettings(BaseModel):
    """Settings of the clinic itself. Other modules add their fields here (opening hours,
    self-payer discount, ...); unknown keys are refused so a typo is caught."""

    model_config = ConfigDict(extra="forbid")

    name: str = "spinecare clinic"
    # None = only nationwide public holidays; a state code adds that state's holidays.
    federal_state: str | None = Field(default=None, description="ISO 3166-2:DE code, e.g. 'BY'")
    # Clinic-local time zone: schedules are planned in local time and stored in UTC.
    timezone: str = "Europe/Berlin"
    # Contraindication thresholds, e.g. SPINECARE_CLINIC__SCREENING__MIN_AGE_YEARS=16. The
    # seed's numbered limits can only be tightened; a looser value fails at start-up.
    screening: ScreeningSettings = Field(default_factory=ScreeningSettings)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @field_validator("federal_state")
    @classmethod
    def _known_state(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        code = v.strip().upper().removeprefix("DE-")
        if code not in FEDERAL_STATES:
            raise ValueError(
                f"unknown German federal state {v!r} (one of {', '.join(FEDERAL_STATES)})"
            )
        return code


class Settings(BaseSettings):
    """Application settings; build with :func:`get_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="SPINECARE_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    # Empty means "<data_dir>/spinecare.db" (SQLite); PostgreSQL via postgresql+psycopg://...
    database_url: str = ""
    # Empty means "<data_dir>/sessions": one directory per recorded session.
    sessions_dir: Path | None = None
    device: Literal["simulated", "modbus"] = "simulated"
    # Which of this account's CLI logins acts (`--as` overrides it); never a login by itself.
    user: str | None = None
    # How long a CLI login (`spinecare login`) lasts: a working shift by default, at most a day.
    login_hours: int = Field(default=8, ge=1, le=24)
    clinic: ClinicSettings = Field(default_factory=ClinicSettings)

    @field_validator("database_url")
    @classmethod
    def _parseable_url(cls, v: str) -> str:
        if v:
            try:
                from sqlalchemy.engine import make_url  # on use: keeps CLI start-up light

                url = make_url(v)
            except Exception as exc:  # sqlalchemy raises ArgumentError; keep the message short
                raise ValueError(f"not a database URL: {exc}") from None
            if url.get_backend_name() not in ("sqlite", "postgresql"):
                raise ValueError("only SQLite (sqlite:///FILE) and PostgreSQL are supported")
            if url.get_backend_name() == "postgresql" and url.drivername not in (
                "postgresql",
                "postgresql+psycopg",
            ):
                raise ValueError("PostgreSQL is reached through psycopg: postgresql+psycopg://")
        return v

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'spinecare.db'}"
        if self.sessions_dir is None:
            self.sessions_dir = self.data_dir / "sessions"
        return self

    @property
    def session_root(self) -> Path:
        """The sessions directory (always set after validation)."""
        assert self.sessions_dir is not None
        return self.sessions_dir

    @property
    def device_simulated(self) -> bool:
        return self.device == "simulated"

    @property
    def database_url_masked(self) -> str:
        """The database URL with any password replaced by ``***``: safe to print or log."""
        return mask_url(self.database_url)


def mask_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def get_settings() -> Settings:
    """Read and validate the settings from the environment now (cheap; not cached so tests and
    long-running processes see environment changes)."""
    return Settings()
