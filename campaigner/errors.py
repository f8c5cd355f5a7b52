"""The exceptions campaigner raises; the CLI turns each into one clear line and an exit code.

CampaignerError
├── ConfigError            a setting, an environment variable or campaigner.toml is wrong
├── DatabaseError
│   ├── SchemaOutdated     the database is at an older revision: run `campaigner db upgrade`
│   └── SchemaTooNew       the database was migrated by a newer campaigner
├── ValidationError        a campaign definition or a command-line value is not acceptable
├── NotFound               no such campaign (or other named thing)
├── AlreadyExists          a campaign of that name already exists
├── InvalidTransition      e.g. resuming a cancelled campaign
├── ImportFailed           the CSV file cannot be read at all (nothing was imported)
└── ProviderError          the provider refused a request, or could not be reached
"""

from __future__ import annotations


class CampaignerError(Exception):
    """Something went wrong in campaigner."""

    exit_code = 1

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class ConfigError(CampaignerError):
    """The configuration is not valid."""

    exit_code = 78  # EX_CONFIG


class DatabaseError(CampaignerError):
    """The database cannot be used."""


class SchemaOutdated(DatabaseError):
    """The database schema is older than this campaigner: run `campaigner db upgrade`."""


class SchemaTooNew(DatabaseError):
    """The database was migrated by a newer campaigner; upgrade campaigner to use it."""


class ValidationError(CampaignerError):
    """A value is not acceptable."""

    exit_code = 2


class NotFound(CampaignerError):
    """No such thing."""


class AlreadyExists(CampaignerError):
    """That already exists."""


class InvalidTransition(CampaignerError):
    """That change of state is not allowed."""


class ImportFailed(CampaignerError):
    """The file cannot be imported; nothing was imported."""

    exit_code = 65  # EX_DATAERR


class ProviderError(CampaignerError):
    """The provider refused the request, or could not be reached."""

    exit_code = 69  # EX_UNAVAILABLE, as `campaigner run` exits when the provider refuses
