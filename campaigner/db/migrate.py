"""Alembic, driven from code: upgrading, downgrading and checking a database's schema revision.

The migration scripts live in `migrations/` at the top of the source tree; a wheel carries them as
`campaigner/migrations` (see pyproject.toml). Both places are looked for.

Every command checks the schema first (`check_schema`). Importing alembic and loading its scripts
took about as long as a small command's own work, so the check first compares the database's
stamp with the head read from the scripts' text, and asks alembic only when they differ.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from ..errors import DatabaseError, SchemaOutdated, SchemaTooNew
from .engine import Database

if TYPE_CHECKING:
    from alembic.config import Config

# A script's `revision = "0011"` and `down_revision = "0008"` (or None) lines, type hints allowed.
_REVISION = re.compile(r'^revision\s*(?::[^=\n]*)?=\s*"([^"]+)"\s*$', re.MULTILINE)
_DOWN_REVISION = re.compile(
    r'^down_revision\s*(?::[^=\n]*)?=\s*(?:"([^"]+)"|None)\s*$', re.MULTILINE
)

_PACKAGE_DIR = Path(__file__).resolve().parents[1]


def migrations_dir() -> Path:
    for candidate in (_PACKAGE_DIR / "migrations", _PACKAGE_DIR.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise DatabaseError("campaigner's migration scripts are missing from this installation")


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(database: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(database: Database, revision: str = "head") -> None:
    _run(database, "upgrade", revision)


def downgrade(database: Database, revision: str) -> None:
    _run(database, "downgrade", revision)


def _run(database: Database, direction: str, revision: str) -> None:
    """Run alembic's `direction` to `revision` in one transaction.

    On SQLite the foreign keys are off while it runs, as SQLite's own procedure for changing a
    table asks: batch mode rebuilds a table (copies it, drops it, renames the copy), and with
    the keys on, dropping `contacts` deleted every attempt through ON DELETE CASCADE. The keys
    are checked before the commit instead, and turned on again afterwards (the connection goes
    back to the pool)."""
    from alembic import command

    config = alembic_config()
    with database.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        driver = connection.connection.driver_connection
        assert driver is not None
        if sqlite:
            driver.execute("PRAGMA foreign_keys = OFF")  # a no-op inside a transaction
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                getattr(command, direction)(config, revision)
                if sqlite:
                    _check_foreign_keys(connection)
        finally:
            if sqlite:
                driver.execute("PRAGMA foreign_keys = ON")


def _check_foreign_keys(connection: Connection) -> None:
    """Raise, rolling the migration back, if a row refers to one that does not exist."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        table, rowid, parent, _ = broken[0]
        raise DatabaseError(
            f"migration left {len(broken)} row(s) referring to missing rows, e.g. {table} "
            f"row {rowid} -> {parent}; nothing was changed"
        )


def check_schema(database: Database) -> None:
    """Make sure the schema is the one this campaigner was written for.

    A new, empty SQLite file is migrated on the spot (zero set-up is the point of SQLite here);
    any other database that is behind raises `SchemaOutdated`, one that is ahead `SchemaTooNew`.
    """
    head = scripts_head()
    if head is not None and _stamp(database) == head:
        return
    from alembic.script import ScriptDirectory

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


def scripts_head() -> str | None:
    """The head revision, read from the text of the scripts without alembic; None unless they
    read as one chain with one head (alembic then decides)."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in (migrations_dir() / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN_REVISION.search(source)
        if revision is None or down is None:
            return None
        revisions.add(revision[1])
        if down[1] is not None:
            downs.add(down[1])
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 else None


def _stamp(database: Database) -> str | None:
    """The one revision stamped in the database; None if there is none, or several."""
    try:
        with database.engine.connect() as connection:
            stamps = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:  # no such table: a new database, or not campaigner's
        return None
    return str(stamps[0][0]) if len(stamps) == 1 else None
