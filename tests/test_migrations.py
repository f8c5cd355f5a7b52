"""The schema exists only through Alembic, on both backends, and matches the table definitions."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import URL

from campaigner.config import parse_database_url
from campaigner.db import check_schema, downgrade, head_revision, migrate, open_database, upgrade
from campaigner.db.migrate import current_revision, scripts_head
from campaigner.db.schema import metadata
from campaigner.errors import SchemaOutdated, SchemaTooNew


def test_upgrade_to_head_matches_the_table_definitions(empty_database_url: URL) -> None:
    database = open_database(empty_database_url, check=False)
    try:
        upgrade(database)
        assert current_revision(database) == head_revision()
        with database.engine.connect() as connection:
            diff = compare_metadata(
                MigrationContext.configure(connection, opts={"compare_type": True}), metadata
            )
        assert diff == []
    finally:
        database.dispose()


def test_downgrade_to_base_removes_everything(empty_database_url: URL) -> None:
    database = open_database(empty_database_url, check=False)
    try:
        upgrade(database)
        downgrade(database, "base")
        with database.engine.connect() as connection:
            tables = set(inspect(connection).get_table_names()) - {"alembic_version"}
        assert tables == set()
        assert current_revision(database) is None
        upgrade(database)
        assert current_revision(database) == head_revision()
    finally:
        database.dispose()


def test_a_new_sqlite_file_is_migrated_on_first_use() -> None:
    database = open_database(parse_database_url("fresh.db"))
    try:
        assert current_revision(database) == head_revision()
    finally:
        database.dispose()


def test_an_empty_postgres_database_must_be_upgraded_explicitly(empty_database_url: URL) -> None:
    if empty_database_url.get_backend_name() == "sqlite":
        pytest.skip("an empty SQLite file is migrated automatically (tested above)")
    with pytest.raises(SchemaOutdated, match="campaigner db upgrade"):
        open_database(empty_database_url)


def test_a_revision_this_campaigner_does_not_know_is_too_new(database_url: URL) -> None:
    database = open_database(database_url)
    try:
        with database.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
        with pytest.raises(SchemaTooNew, match="newer campaigner"):
            check_schema(database)
    finally:
        database.dispose()


def test_an_older_revision_gets_the_upgrade_message(
    database_url: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database at a known revision that is not the head: pretend a newer migration exists."""
    database = open_database(database_url)
    try:
        monkeypatch.setattr(ScriptDirectory, "get_current_head", lambda self: "0999")
        monkeypatch.setattr(migrate, "scripts_head", lambda: "0999")
        with pytest.raises(SchemaOutdated, match=r"needs 0999: run `campaigner db upgrade`"):
            check_schema(database)
    finally:
        database.dispose()


def test_the_head_read_from_the_scripts_is_alembics() -> None:
    """`check_schema` trusts it to skip alembic when the database is at the head."""
    assert scripts_head() == head_revision()
