"""Alembic, driven from code: upgrading, downgrading and checking a database's schema revision.

The migration scripts live in `migrations/` at the top of the source tree; a wheel carries them as
`campaigner/migrations` (see pyproject.toml). Both places are looked for.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from ..errors import DatabaseError, SchemaOutdated, SchemaTooNew
from .engine import Database

_PACKAGE_DIR = Path(__file__).resolve().parents[1]


def migrations_dir() -> Path:
    for candidate in (_PACKAGE_DIR / "migrations", _PACKAGE_DIR.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise DatabaseError("campaigner's migration scripts are missing from this installation")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(database: Database) -> str | None:
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(database: Database, revision: str = "head") -> None:
    _run(database, "upgrade", revision)


def downgrade(database: Database, revision: str) -> None:
    _run(database, "downgrade", revision)


def _run(database: Database, direction: str, revision: str) -> None:
    config = alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, direction)(config, revision)


def check_schema(database: Database) -> None:
    """Make sure the schema is the one this campaigner was written for.

    A new, empty SQLite file is migrated on the spot (zero set-up is the point of SQLite here);
    any other database that is behind raises `SchemaOutdated`, one that is ahead `SchemaTooNew`.
    """
    current = current_revision(database)
    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head()
    if current == head:
        return
    where = database.display_url
    if current is None:
        with database.engine.connect() as connection:
            empty = not inspect(connection).get_table_names()
        if database.is_sqlite and empty:
            upgrade(database)
            return
        raise SchemaOutdated(
            f"database {where} has no campaigner schema: run `campaigner db upgrade` first"
        )
    known = {rev.revision for rev in script.walk_revisions()}
    if current in known:
        raise SchemaOutdated(
            f"database {where} is at schema revision {current}, this campaigner needs {head}: "
            "run `campaigner db upgrade`"
        )
    raise SchemaTooNew(
        f"database {where} is at schema revision {current}, which this campaigner does not know: "
        "it was migrated by a newer campaigner; upgrade campaigner to use it"
    )
