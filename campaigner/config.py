"""Where campaigner finds its database and the providers' credentials.

The database URL comes from `--db`, else `CAMPAIGNER_DB`, else `campaigner.db` in the current
directory. A plain path means a SQLite file; `postgresql://` URLs use the psycopg 3 driver.

Provider credentials and the webhook password come only from environment variables or from an
optional TOML file (`--config`, else `CAMPAIGNER_CONFIG`, else `./campaigner.toml` if present);
an environment variable wins over the file. They are never written to the database or the logs.

    [enablex]                       # CAMPAIGNER_ENABLEX_APP_ID, CAMPAIGNER_ENABLEX_APP_KEY
    app_id = "..."
    app_key = "..."
    base_url = "https://api.enablex.io/voice/v1"   # CAMPAIGNER_ENABLEX_BASE_URL

    [fractel]                       # CAMPAIGNER_FRACTEL_TOKEN
    token = "..."
    base_url = "https://api.fonestorm.com/v2"      # CAMPAIGNER_FRACTEL_BASE_URL

    [webex]                         # CAMPAIGNER_WEBEX_SERVICE_KEY
    service_key = "..."
    base_url = "https://api.us.webexconnect.io/v1" # CAMPAIGNER_WEBEX_BASE_URL

    [receiver]      # CAMPAIGNER_WEBHOOK_TOKEN, CAMPAIGNER_WEBHOOK_USER, CAMPAIGNER_WEBHOOK_PASSWORD
    token = "..."   # a long random string: webhooks go to /hooks/{provider}/{token}
    user = "..."    # or HTTP Basic on /hooks/{provider}
    password = "..."

    [notify]        # CAMPAIGNER_NOTIFY_SECRET
    secret = "..."  # signs the outcome notifications of campaigns with --notify-url
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from .errors import ConfigError

DEFAULT_SQLITE_FILE = "campaigner.db"
CONFIG_FILE_NAME = "campaigner.toml"


def database_url(cli_value: str | None = None, environ: Mapping[str, str] | None = None) -> URL:
    """The database to use, from `--db`, else `CAMPAIGNER_DB`, else `./campaigner.db`."""
    environ = os.environ if environ is None else environ
    raw = cli_value or environ.get("CAMPAIGNER_DB") or DEFAULT_SQLITE_FILE
    return parse_database_url(raw)


def parse_database_url(raw: str) -> URL:
    """Turn what a user typed into a SQLAlchemy URL: a path is a SQLite file."""
    if "://" not in raw:
        return URL.create("sqlite+pysqlite", database=str(Path(raw).expanduser()))
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise ConfigError(f"database URL {raw!r} is not valid: {exc}") from None
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return url.set(drivername="sqlite+pysqlite")
    raise ConfigError(
        f"database URL {url.render_as_string(hide_password=True)!r}: campaigner supports "
        "SQLite (a file path or sqlite:///path) and PostgreSQL (postgresql://...)"
    )


# (section, key) -> environment variable. The file may hold the same keys under those sections.
_SETTINGS: dict[tuple[str, str], str] = {
    ("enablex", "app_id"): "CAMPAIGNER_ENABLEX_APP_ID",
    ("enablex", "app_key"): "CAMPAIGNER_ENABLEX_APP_KEY",
    ("enablex", "base_url"): "CAMPAIGNER_ENABLEX_BASE_URL",
    ("fractel", "token"): "CAMPAIGNER_FRACTEL_TOKEN",
    ("fractel", "base_url"): "CAMPAIGNER_FRACTEL_BASE_URL",
    ("webex", "service_key"): "CAMPAIGNER_WEBEX_SERVICE_KEY",
    ("webex", "base_url"): "CAMPAIGNER_WEBEX_BASE_URL",
    ("receiver", "token"): "CAMPAIGNER_WEBHOOK_TOKEN",
    ("receiver", "user"): "CAMPAIGNER_WEBHOOK_USER",
    ("receiver", "password"): "CAMPAIGNER_WEBHOOK_PASSWORD",
    ("notify", "secret"): "CAMPAIGNER_NOTIFY_SECRET",
}

ENVIRONMENT_VARIABLES = tuple(sorted({*_SETTINGS.values(), "CAMPAIGNER_DB", "CAMPAIGNER_CONFIG"}))


@dataclass(frozen=True)
class Settings:
    """Secrets and endpoints, by section. `repr` never shows the values."""

    values: Mapping[tuple[str, str], str] = field(default_factory=dict, repr=False)
    source: str = "environment"

    def get(self, section: str, key: str) -> str | None:
        return self.values.get((section, key))

    def require(self, section: str, key: str) -> str:
        value = self.get(section, key)
        if not value:
            raise ConfigError(
                f"missing setting {section}.{key}: set the environment variable "
                f"{_SETTINGS[(section, key)]}, or `{key}` under [{section}] in {CONFIG_FILE_NAME}"
            )
        return value


def load_settings(
    config_file: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read the optional TOML file, then let environment variables override it."""
    environ = os.environ if environ is None else environ
    explicit = config_file or environ.get("CAMPAIGNER_CONFIG")
    path = Path(explicit) if explicit else Path(CONFIG_FILE_NAME)
    values: dict[tuple[str, str], str] = {}
    source = "environment"
    if explicit and not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    if path.is_file():
        values.update(_read_config_file(path))
        source = str(path)
    for setting, variable in _SETTINGS.items():
        if environ.get(variable):
            values[setting] = environ[variable]
    return Settings(values=values, source=source)


def _read_config_file(path: Path) -> dict[tuple[str, str], str]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    values: dict[tuple[str, str], str] = {}
    for section, table in document.items():
        if not isinstance(table, dict):
            raise ConfigError(f"config file {path}: `{section}` must be a [section]")
        for key, value in table.items():
            if (section, key) not in _SETTINGS:
                known = ", ".join(f"{s}.{k}" for s, k in _SETTINGS)
                raise ConfigError(f"config file {path}: unknown setting {section}.{key} ({known})")
            if not isinstance(value, str):
                raise ConfigError(f"config file {path}: {section}.{key} must be a string")
            values[(section, key)] = value
    return values
