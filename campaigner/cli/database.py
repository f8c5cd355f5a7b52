"""`campaigner db`: the database schema."""

from __future__ import annotations

import click

from ..db import head_revision, upgrade
from ..db.migrate import current_revision
from .app import database_option, main, opened_database


@main.group("db")
def db_group() -> None:
    """Manage the database schema."""


@db_group.command("upgrade")
@database_option
def db_upgrade(db: str | None) -> None:
    """Migrate the database to the schema this campaigner needs.

    Safe to run at any time: a database that is already up to date is left as it is. A new SQLite
    file is migrated automatically on first use; PostgreSQL databases need this command once.
    """
    with opened_database(db, check=False) as database:
        before = current_revision(database)
        upgrade(database)
        head = head_revision()
        if before == head:
            click.echo(f"{database.display_url}: already at schema revision {head}")
        else:
            click.echo(f"{database.display_url}: upgraded from {before or 'empty'} to {head}")
