"""Where the database URL and the secrets come from, and that secrets never show."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaigner.config import database_url, load_settings, parse_database_url
from campaigner.errors import ConfigError


@pytest.mark.parametrize(
    ("cli", "env", "driver", "database"),
    [
        (None, None, "sqlite+pysqlite", "campaigner.db"),
        (None, "from-env.db", "sqlite+pysqlite", "from-env.db"),
        ("from-cli.db", "from-env.db", "sqlite+pysqlite", "from-cli.db"),
        ("sqlite:///x.db", None, "sqlite+pysqlite", "x.db"),
        ("postgresql://u@h/db", None, "postgresql+psycopg", "db"),
        ("postgres://u@h/db", None, "postgresql+psycopg", "db"),
        ("postgresql+psycopg://u@h/db", None, "postgresql+psycopg", "db"),
    ],
)
def test_database_url_precedence(
    cli: str | None, env: str | None, driver: str, database: str
) -> None:
    environ = {"CAMPAIGNER_DB": env} if env else {}
    url = database_url(cli, environ)
    assert url.drivername == driver
    assert url.database == database


def test_unsupported_database_is_refused_without_showing_the_password() -> None:
    with pytest.raises(ConfigError, match="supports SQLite") as caught:
        parse_database_url("mysql://user:s3cret@host/db")
    assert "s3cret" not in str(caught.value)


def test_settings_from_file_and_environment(tmp_path: Path) -> None:
    config = tmp_path / "campaigner.toml"
    config.write_text('[enablex]\napp_id = "file-id"\napp_key = "file-key"\n', encoding="utf-8")
    settings = load_settings(config, {"CAMPAIGNER_ENABLEX_APP_KEY": "env-key"})
    assert settings.get("enablex", "app_id") == "file-id"
    assert settings.get("enablex", "app_key") == "env-key"  # the environment wins
    assert "file-key" not in repr(settings)
    assert "env-key" not in repr(settings)


def test_the_default_file_is_read_from_the_current_directory() -> None:
    Path("campaigner.toml").write_text('[fractel]\ntoken = "t"\n', encoding="utf-8")
    assert load_settings(environ={}).require("fractel", "token") == "t"


def test_a_missing_setting_names_the_variable_and_the_file_key() -> None:
    with pytest.raises(ConfigError, match=r"CAMPAIGNER_WEBEX_SERVICE_KEY.*\[webex\]"):
        load_settings(environ={}).require("webex", "service_key")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[enablex\n", "not valid TOML"),
        ('[enablex]\napp_secret = "x"\n', "unknown setting enablex.app_secret"),
        ("[enablex]\napp_id = 5\n", "must be a string"),
        ('enablex = "x"\n', "must be a \\[section\\]"),
    ],
)
def test_a_bad_config_file_is_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_settings(path, {})


def test_an_explicit_config_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(environ={"CAMPAIGNER_CONFIG": str(tmp_path / "nope.toml")})
