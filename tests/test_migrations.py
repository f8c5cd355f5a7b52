"""The schema exists only through Alembic, on both backends, and matches the table definitions."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from attempts_helpers import assert_summaries_match, make_campaign, make_contact, start_attempt
from sqlalchemy import column, insert, inspect, select, table, text, update
from sqlalchemy.engine import URL

from campaigner.config import parse_database_url
from campaigner.db import (
    Database,
    check_schema,
    downgrade,
    head_revision,
    migrate,
    open_database,
    upgrade,
)
from campaigner.db.migrate import current_revision, scripts_head
from campaigner.db.schema import UTCDateTime, attempts, contacts, metadata
from campaigner.errors import SchemaOutdated, SchemaTooNew
from campaigner.reports.exports import Format, export
from campaigner.store.campaigns import get_campaign_by_id


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


def test_rebuilding_a_table_keeps_the_rows_that_refer_to_it(empty_database_url: URL) -> None:
    """From 0002 to the head and back: 0003 rebuilds `contacts` on SQLite (batch mode), which
    with the foreign keys on deleted every attempt through ON DELETE CASCADE. The calls stay, and
    the keys are on again afterwards."""
    database = open_database(empty_database_url, check=False)
    try:
        upgrade(database, "0002")
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO campaigns (id, name, provider, caller_id, message_kind, message, "
                    "calls_per_second, max_in_flight, max_attempts, retry_delay_busy, "
                    "retry_delay_no_answer, retry_delay_failed, window_start, window_end, "
                    "window_days, default_timezone, status, created_at, updated_at, key_timeout, "
                    "replay_on_no_input) VALUES (1, 'c', 'enablex', '+13215550100', 'tts', 'Hi', "
                    "1, 1, 1, 1, 1, 1, '09:00', '20:00', 'mon', 'UTC', 'draft', :at, :at, 5, "
                    "false)"
                ),
                {"at": datetime(2026, 3, 2, tzinfo=UTC)},
            )
            connection.execute(
                text(
                    "INSERT INTO contacts (id, campaign_id, phone, phone_raw, fields, timezone, "
                    "timezone_source, state, attempts, created_at, updated_at) VALUES (1, 1, "
                    "'+12025550101', '202 555 0101', '{}', 'UTC', 'default', 'delivered', 1, "
                    ":at, :at)"
                ),
                {"at": datetime(2026, 3, 2, tzinfo=UTC)},
            )
            connection.execute(
                text(
                    "INSERT INTO attempts (contact_id, campaign_id, attempt_number, provider, "
                    "correlation_key, progress, requested_at) VALUES (1, 1, 1, 'enablex', 'k1', "
                    "'requested', :at)"
                ),
                {"at": datetime(2026, 3, 2, 15, tzinfo=UTC)},
            )

        def calls() -> int:
            with database.engine.connect() as connection:
                return int(connection.execute(text("SELECT count(*) FROM attempts")).scalar_one())

        upgrade(database)
        assert calls() == 1
        downgrade(database, "0002")
        assert calls() == 1
        if database.engine.dialect.name == "sqlite":
            with database.engine.connect() as connection:
                assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
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


def test_0013_records_the_local_time_of_earlier_calls_and_downgrades(database: Database) -> None:
    """Calls placed before 0013 get their local time from Python's zone database (an offset each
    side of New York's change to summer time), and their contacts their first and last; a zone
    Python does not know gets none, an empty local cell in the report. Downgraded, the columns
    go and the call summaries are kept as before; upgraded again, every call has its local time."""
    campaign_id = make_campaign(database)
    york = make_contact(database, campaign_id, "+12025550101")
    mars = make_contact(database, campaign_id, "+12025550102")
    with database.write() as connection:
        connection.execute(
            update(contacts).where(contacts.c.id == mars).values(timezone="Mars/Olympus")
        )
    start_attempt(database, york)  # 2 March 2026, 15:00 UTC
    start_attempt(database, york, requested_at=datetime(2026, 3, 9, 15, 0, 0, 600_000, UTC))
    start_attempt(database, mars)

    downgrade(database, "0012")
    with database.engine.connect() as connection:
        found = inspect(connection)
        assert "requested_local" not in {c["name"] for c in found.get_columns("attempts")}
        assert not {"first_call_local", "last_call_local"} & {
            c["name"] for c in found.get_columns("contacts")
        }
    old_attempts = table(
        "attempts",
        *(column(name) for name in ("contact_id", "campaign_id", "attempt_number", "provider")),
        *(column(name) for name in ("correlation_key", "progress")),
        column("requested_at", UTCDateTime),
    )
    third = datetime(2026, 3, 10, 16, 30, tzinfo=UTC)
    with database.write() as connection:
        connection.execute(
            insert(old_attempts).values(
                contact_id=york,
                campaign_id=campaign_id,
                attempt_number=3,
                provider="enablex",
                correlation_key="key-3",
                progress="requested",
                requested_at=third,
            )
        )
        last_call = connection.execute(
            select(column("last_call_at", UTCDateTime))
            .select_from(table("contacts"))
            .where(column("id") == york)
        ).scalar_one()
    assert last_call == third  # 0012's triggers, back in place

    upgrade(database)
    with database.read() as connection:
        placed = connection.execute(
            select(attempts.c.contact_id, attempts.c.requested_local).order_by(attempts.c.id)
        ).all()
        summaries = {
            contact_id: (first, last)
            for contact_id, first, last in connection.execute(
                select(contacts.c.id, contacts.c.first_call_local, contacts.c.last_call_local)
            )
        }
    assert placed == [
        (york, "2026-03-02T10:00:00-05:00"),
        (york, "2026-03-09T11:00:00-04:00"),
        (mars, None),
        (york, "2026-03-10T12:30:00-04:00"),
    ]
    assert summaries == {
        york: ("2026-03-02T10:00:00-05:00", "2026-03-10T12:30:00-04:00"),
        mars: (None, None),
    }
    assert_summaries_match(database)

    for fmt in (Format.CSV, Format.JSONL):
        out = io.StringIO()
        with database.read() as connection:
            export(connection, get_campaign_by_id(connection, campaign_id), fmt, out)
        if fmt is Format.CSV:
            rows = list(csv.DictReader(io.StringIO(out.getvalue())))
        else:
            rows = [json.loads(line) for line in out.getvalue().splitlines()]
        local = {row["phone"]: (row["first_call_local"], row["last_call_local"]) for row in rows}
        empty = ("", "") if fmt is Format.CSV else (None, None)
        assert local == {
            "+12025550101": ("2026-03-02T10:00:00-05:00", "2026-03-10T12:30:00-04:00"),
            "+12025550102": empty,
        }
