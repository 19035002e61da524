"""One validated Settings object for the whole application (env prefix ``SPINECARE_``).

Everything that differs between a developer laptop, CI and a clinic install lives here, read
from one settings file (TOML: ``SPINECARE_SETTINGS_FILE``, else ``settings.toml`` in the data
directory) and the environment (or a ``.env`` file), the environment winning, and validated, so
a typo fails at start-up with the field's name instead of deep inside a session. Hard safety
limits are *not* settings: they are constants in ``therapy/safety.py``.

Nested values use a double underscore: ``SPINECARE_CLINIC__FEDERAL_STATE=BY``; lists are JSON:
``SPINECARE_CLINIC__CLOSING_DAYS='["08-15", "2026-12-27..2026-12-30"]'``.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from spinecare.clinical.course import ScheduleSettings
from spinecare.clinical.screening_settings import ScreeningSettings
from spinecare.errors import refuse_reason

APP_NAME = "spinecare"

# German federal states (ISO 3166-2:DE subdivision codes [iso3166-2]), as the `holidays` package
# names them.
FEDERAL_STATES: tuple[str, ...] = (
    "BB", "BE", "BW", "BY", "HB", "HE", "HH", "MV",
    "NI", "NW", "RP", "SH", "SL", "SN", "ST", "TH",
)  # fmt: skip


SETTINGS_FILE_ENV = "SPINECARE_SETTINGS_FILE"
SETTINGS_FILE_NAME = "settings.toml"
# A closing range longer than this is a typing error (a clinic closes for weeks, not a year).
MAX_CLOSING_RANGE_DAYS = 62
_ANNUAL = re.compile(r"^(\d{2})-(\d{2})$")
# IBAN: country, two check digits, up to 30 letters or digits (ISO 13616 [iso13616]).
_IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")


def default_data_dir() -> Path:
    """Per-user data directory, e.g. ``~/.local/share/spinecare`` on Linux."""
    return Path(platformdirs.user_data_dir(APP_NAME))


def settings_file() -> Path:
    """The settings file: ``$SPINECARE_SETTINGS_FILE``, else ``settings.toml`` in the data
    directory (which may itself come from ``$SPINECARE_DATA_DIR``). It need not exist."""
    named = os.environ.get(SETTINGS_FILE_ENV)
    if named:
        return Path(named).expanduser()
    data = os.environ.get("SPINECARE_DATA_DIR")
    return (Path(data).expanduser() if data else default_data_dir()) / SETTINGS_FILE_NAME


def iban_valid(iban: str) -> bool:
    """ISO 13616 check: move the first four characters to the end, letters to numbers
    (A=10 ... Z=35), the number modulo 97 must be 1 [iso13616]."""
    code = iban.replace(" ", "").upper()
    if not _IBAN.match(code):
        return False
    digits = "".join(str(int(c, 36)) for c in code[4:] + code[:4])
    return int(digits) % 97 == 1


def _plain_text(v: str | list[str]) -> str | list[str]:
    """A text of the letterhead or the bank: no control or formatting characters (an ESC or a
    bidirectional override in the clinic's name would reach every document and screen)."""
    for text in [v] if isinstance(v, str) else v:
        reason = refuse_reason(text)
        if reason is not None:
            raise ValueError(reason)
    return v


class BankAccount(BaseModel):
    """Where patients pay: printed on every invoice."""

    model_config = ConfigDict(extra="forbid")

    holder: str = ""
    iban: str
    bic: str = ""
    bank: str = ""

    _texts = field_validator("holder", "bank")(_plain_text)

    @field_validator("iban")
    @classmethod
    def _iban(cls, v: str) -> str:
        if not iban_valid(v):
            raise ValueError("not a valid IBAN (check digits wrong or malformed)")
        code = v.replace(" ", "").upper()
        return " ".join(code[i : i + 4] for i in range(0, len(code), 4))

    @field_validator("bic")
    @classmethod
    def _bic(cls, v: str) -> str:
        # BIC: 8 or 11 characters (ISO 9362 [iso9362]).
        code = v.replace(" ", "").upper()
        if code and not re.fullmatch(r"[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?", code):
            raise ValueError("a BIC has 8 or 11 letters and digits, e.g. COBADEFFXXX")
        return code


def _day_of_year(text: str, entry: str) -> tuple[int, int]:
    m = _ANNUAL.match(text)
    assert m is not None
    month, day = int(m.group(1)), int(m.group(2))
    try:
        date(2024, month, day)  # a leap year admits 29 February
    except ValueError:
        raise ValueError(f"{entry!r}: no such day of the year (MM-DD)") from None
    return month, day


def parse_closing_day(entry: str) -> tuple[frozenset[date], frozenset[tuple[int, int]]]:
    """One closing-day entry: ``2026-08-14`` (one day), ``2026-12-27..2026-12-30`` (a range,
    both ends included), ``08-15`` (every year on 15 August) or ``12-27..12-30`` (every
    year)."""
    text = entry.strip()
    first, sep, last = text.partition("..")
    if _ANNUAL.match(first.strip()) and (not sep or _ANNUAL.match(last.strip())):
        start_md = _day_of_year(first.strip(), entry)
        end_md = _day_of_year(last.strip(), entry) if sep else start_md
        # In a leap year (29 February exists); a range may run over New Year (12-30..01-02).
        a, b = date(2024, *start_md), date(2024, *end_md)
        if b < a:
            b = date(2025, *end_md) if end_md != (2, 29) else date(2025, 3, 1)
        if (b - a).days >= MAX_CLOSING_RANGE_DAYS:
            raise ValueError(f"{entry!r}: longer than {MAX_CLOSING_RANGE_DAYS} days")
        span = (a + timedelta(days=i) for i in range((b - a).days + 1))
        return frozenset(), frozenset((d.month, d.day) for d in span)
    try:
        start = date.fromisoformat(first.strip())
        end = date.fromisoformat(last.strip()) if sep else start
    except ValueError:
        raise ValueError(
            f"{entry!r}: expected YYYY-MM-DD, YYYY-MM-DD..YYYY-MM-DD, MM-DD or MM-DD..MM-DD"
        ) from None
    if end < start:
        raise ValueError(f"{entry!r}: the range ends before it starts")
    if (end - start).days >= MAX_CLOSING_RANGE_DAYS:
        raise ValueError(f"{entry!r}: longer than {MAX_CLOSING_RANGE_DAYS} days")
    days = frozenset(start + timedelta(days=i) for i in range((end - start).days + 1))
    return days, frozenset()


class ClinicSettings(BaseModel):
    """Settings of the clinic itself: who it is (letterhead, issuer of invoices), where patients
    pay, its calendar and its screening thresholds. Unknown keys are refused so a typo is
    caught."""

    model_config = ConfigDict(extra="forbid")

    name: str = "spinecare clinic"
    # Postal address lines of the letterhead, e.g. ["Marienplatz 1", "80331 München"].
    address: list[str] = Field(default_factory=list)
    phone: str = ""
    email: str = ""
    website: str = ""
    # Treating physicians as printed on documents, e.g. ["Dr. med. Eva Huber, Orthopädie"];
    # the first one is named as the issuer of invoices.
    physicians: list[str] = Field(default_factory=list)
    # Steuernummer or USt-IdNr.: German invoices name the issuer's tax number (§14(4) Nr. 2
    # UStG [ustg]); medical treatment is VAT-exempt (§4 Nr. 14 UStG) but the number is still
    # expected on a bill.
    tax_number: str = ""
    bank: BankAccount | None = None
    # A PNG, JPEG or SVG file printed at the top of every document.
    logo: Path | None = None
    # Closing days on top of public holidays: "YYYY-MM-DD", "YYYY-MM-DD..YYYY-MM-DD", or
    # "MM-DD" every year (15 August where the municipality keeps Assumption Day
    # [by-feiertagsgesetz]). Courses are not booked on them.
    closing_days: list[str] = Field(default_factory=list)
    # None = only nationwide public holidays; a state code adds that state's holidays.
    federal_state: str | None = Field(default=None, description="ISO 3166-2:DE code, e.g. 'BY'")
    # Clinic-local time zone: schedules are planned in local time and stored in UTC.
    timezone: str = "Europe/Berlin"
    # Contraindication thresholds, e.g. SPINECARE_CLINIC__SCREENING__MIN_AGE_YEARS=16. The
    # seed's numbered limits can only be tightened; a looser value fails at start-up.
    screening: ScreeningSettings = Field(default_factory=ScreeningSettings)

    _texts = field_validator(
        "name", "address", "phone", "email", "website", "physicians", "tax_number"
    )(_plain_text)

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

    @field_validator("closing_days")
    @classmethod
    def _closing_days(cls, v: list[str]) -> list[str]:
        for entry in v:
            parse_closing_day(entry)
        return v

    @field_validator("logo")
    @classmethod
    def _logo(cls, v: Path | None) -> Path | None:
        if v is None or str(v) == "":
            return None
        path = v.expanduser()
        if not path.exists():
            raise ValueError(f"no such file {str(path)!r}")
        if not path.is_file():
            raise ValueError(f"not a regular file: {str(path)!r}")
        suffix = path.suffix.lower()
        if suffix not in (".png", ".jpg", ".jpeg", ".svg"):
            raise ValueError("a PNG, JPEG or SVG file")
        # What the file holds, not only its name: a text file called logo.png was left off
        # every document without a word.
        try:
            with open(path, "rb") as f:
                head = f.read(4096)
        except OSError as exc:
            raise ValueError(f"cannot be read: {exc.strerror}") from None
        kinds = {".png": head.startswith(b"\x89PNG\r\n\x1a\n"),
                 ".jpg": head.startswith(b"\xff\xd8\xff"),
                 ".jpeg": head.startswith(b"\xff\xd8\xff"),
                 ".svg": b"<svg" in head}  # fmt: skip
        if not kinds[suffix]:
            raise ValueError(f"not a {suffix.lstrip('.').upper()} image: {str(path)!r}")
        return path.resolve()

    def closed(self) -> tuple[frozenset[date], frozenset[tuple[int, int]]]:
        """The configured closing days: dates, and (month, day) pairs closed every year."""
        days: set[date] = set()
        annual: set[tuple[int, int]] = set()
        for entry in self.closing_days:
            d, a = parse_closing_day(entry)
            days |= d
            annual |= a
        return frozenset(days), frozenset(annual)

    def schedule(self) -> ScheduleSettings:
        """The clinic calendar for booking: public holidays of the state and the closing days."""
        days, annual = self.closed()
        return ScheduleSettings(
            holiday_subdiv=self.federal_state, closed_dates=days, closed_annually=annual
        )

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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then ``.env``, then the settings file."""
        toml = TomlConfigSettingsSource(settings_cls, toml_file=settings_file())
        return init_settings, env_settings, dotenv_settings, toml, file_secret_settings

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

    @field_validator("user")
    @classmethod
    def _blank_is_unset(cls, v: str | None) -> str | None:
        """``SPINECARE_USER=`` (set, but empty) means no user chosen, not a user named ""."""
        return v if v is None or v.strip() else None

    @field_validator("data_dir", "sessions_dir", mode="before")
    @classmethod
    def _no_blank_directory(cls, v: object) -> object:
        """``SPINECARE_DATA_DIR=`` (a script's unset variable) would be the current directory:
        a second, empty clinic where the command happens to run. Refused, with the setting."""
        if isinstance(v, str) and not v.strip():
            raise ValueError("empty: name a directory, or leave the setting out for the default")
        return v

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
    """Read and validate the settings from the environment and the settings file now (cheap;
    not cached so tests and long-running processes see changes). A settings file that is not
    TOML is refused naming the file and the line."""
    import tomllib

    from pydantic_settings import SettingsError

    from spinecare.errors import InputError

    _check_settings_file()
    try:
        return Settings()
    except SettingsError as exc:
        raise _unparsable_setting(exc) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError("settings file", f"not valid TOML: {exc}", str(settings_file())) from None
    except OSError as exc:
        raise InputError(
            "settings file", f"cannot be read: {exc.strerror}", str(settings_file())
        ) from None


def _check_settings_file() -> None:
    """A settings file that is there must be a file: pydantic-settings passed over a directory
    silently (the clinic's settings were not applied and nobody was told), and a device such as
    ``/dev/zero`` would be read without end."""
    from spinecare.errors import InputError

    path = settings_file()
    field = SETTINGS_FILE_ENV if os.environ.get(SETTINGS_FILE_ENV) else "settings file"
    try:
        if path.is_dir():
            raise InputError(field, "is a directory, not a TOML file", str(path))
        if path.exists() and not path.is_file():
            raise InputError(field, "not a regular file (a device or FIFO)", str(path))
    except OSError as exc:
        raise InputError(field, f"cannot be read: {exc.strerror}", str(path)) from None


def _unparsable_setting(exc: Exception) -> Exception:
    """The environment variable behind pydantic-settings' "error parsing value for field
    'clinic'": a list or table setting (``SPINECARE_CLINIC__CLOSING_DAYS``) must be JSON, and
    the user set it; naming the top-level field alone does not say which of them."""
    import json

    from spinecare.errors import InputError

    prefix = str(Settings.model_config.get("env_prefix", ""))
    for name, value in sorted(os.environ.items()):
        if not name.upper().startswith(prefix.upper()):
            continue
        kind = _complex_kind(name[len(prefix) :].lower().split("__"))
        if kind is None:
            continue
        try:
            json.loads(value)
        except ValueError:
            example = '["a", "b"]' if kind == "list" else '{"name": "value"}'
            return InputError(name, f"must be a JSON {kind}, e.g. '{example}'", value[:40])
    return InputError("settings", f"a setting in the environment or .env is unreadable ({exc})")


def _complex_kind(path: list[str]) -> str | None:
    """ "list" or "object" for a settings path whose value pydantic-settings parses as JSON
    (``["clinic", "closing_days"]``); None for a plain value or an unknown name."""
    import types
    import typing

    model: type[BaseModel] = Settings
    for i, part in enumerate(path):
        info = model.model_fields.get(part)
        if info is None:
            return None
        options = [info.annotation]
        if typing.get_origin(info.annotation) in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(info.annotation) if a is not type(None)]
        kind: str | None = None
        inner: type[BaseModel] | None = None
        for a in options:
            if typing.get_origin(a) in (list, tuple, set, frozenset):
                kind = "list"
            elif typing.get_origin(a) is dict:
                kind = "object"
            elif isinstance(a, type) and issubclass(a, BaseModel):
                kind, inner = "object", a
        if i == len(path) - 1:
            return kind
        if inner is None:
            return None
        model = inner
    return None


def clinic_today(zone: ZoneInfo | None = None) -> date:
    """Today as the clinic counts it, in its time zone (setting ``timezone``).

    The one "today" of every date check, document and schedule: a server that keeps UTC (or
    any other zone) would otherwise call a birth date at 00:30 in Munich "in the future" while
    the documents printed at that moment carry the clinic's date.
    """
    return datetime.now(zone or get_settings().clinic.zone).date()


def clinic_day(instant: datetime, zone: ZoneInfo | None = None) -> date:
    """The clinic's calendar day of an instant (a session booked for 00:30 in Munich is on that
    day, not on the day before as in UTC)."""
    return instant.astimezone(zone or get_settings().clinic.zone).date()
