"""The first and last call kept on each contact (migration 0010's triggers, their local times
since 0013) agree with attempts after every kind of write: a call placed, its answer, a late
hang-up, a call id arriving after the outcome, an earlier attempt changed, a claim undone (its
attempt deleted)."""

from __future__ import annotations

from typing import Any

import pytest
from attempts_helpers import (
    NOW,
    assert_summaries_match,
    later,
    make_campaign,
    make_contact,
    start_attempt,
)
from sqlalchemy import Connection, delete, func, insert, select, text, update

from campaigner.db import Database
from campaigner.db.schema import attempts, contacts
from campaigner.providers import Progress


def _change(database: Database, attempt_id: int, **values: Any) -> None:
    with database.write() as connection:
        connection.execute(update(attempts).where(attempts.c.id == attempt_id).values(values))


def test_the_summary_follows_every_write_to_attempts(database: Database) -> None:
    campaign_id = make_campaign(database)
    one = make_contact(database, campaign_id, "+12025550101")
    make_contact(database, campaign_id, "+12025550102")  # never called: all NULL
    assert_summaries_match(database)

    first, _ = start_attempt(database, one)
    assert_summaries_match(database)
    _change(database, first, requested_local="2026-03-02T16:00:00+01:00")  # copied on change
    assert_summaries_match(database)
    _change(database, first, provider_call_id="call-1", answered_at=later(5))
    assert_summaries_match(database)
    _change(database, first, outcome="busy", provider_reason="=busy", ended_at=later(9))
    assert_summaries_match(database)

    second, _ = start_attempt(database, one, requested_at=later(600))
    with database.read() as connection:
        row = connection.execute(select(contacts).where(contacts.c.id == one)).mappings().one()
    assert (row["last_call_at"], row["last_call_id"]) == (later(600), None)
    assert row["last_call_local"] == "2026-03-02T10:10:00-05:00"
    assert (row["first_call_at"], row["first_call_id"]) == (NOW, "call-1")
    assert row["first_call_local"] == "2026-03-02T16:00:00+01:00"
    assert row["last_reason"] is None
    _change(database, second, outcome="delivered", dtmf="1", answered_at=later(605))
    assert_summaries_match(database)
    _change(database, second, ended_at=later(640))  # the hang-up, after the outcome
    _change(database, second, provider_call_id="call-2")  # a call id, later still
    assert_summaries_match(database)
    _change(database, first, provider_call_id="call-1b", dtmf="9")  # the earlier call changed
    assert_summaries_match(database)
    with database.read() as connection:
        assert connection.execute(
            select(contacts.c.first_call_id, contacts.c.last_dtmf).where(contacts.c.id == one)
        ).one() == ("call-1b", "1")

    with database.write() as connection:  # the second claim undone
        connection.execute(delete(attempts).where(attempts.c.id == second))
    assert_summaries_match(database)
    with database.write() as connection:
        connection.execute(delete(attempts).where(attempts.c.id == first))
    assert_summaries_match(database)
    with database.read() as connection:
        assert (
            connection.execute(
                select(func.count()).where(contacts.c.last_call_at.is_not(None))
            ).scalar_one()
            == 0
        )


def test_each_change_of_a_summary_writes_the_contact_once(database: Database) -> None:
    """A contact's only attempt is both its first and its last call: its insert and its call id
    each write the contact row once (PostgreSQL, migration 0011), not once per summary; a change
    that feeds neither summary writes nothing."""
    if database.is_sqlite:
        pytest.skip("SQLite keeps one trigger per summary (0010) and counts no row writes")
    campaign_id = make_campaign(database)
    one = make_contact(database, campaign_id, "+12025550101")

    def add(connection: Connection, number: int) -> int:
        return int(
            connection.execute(
                insert(attempts)
                .values(
                    contact_id=one,
                    campaign_id=campaign_id,
                    attempt_number=number,
                    provider="enablex",
                    correlation_key=f"key-{number}",
                    progress=Progress.REQUESTED.value,
                    requested_at=later(number),
                )
                .returning(attempts.c.id)
            ).scalar_one()
        )

    def writes(connection: Connection, attempt_id: int | None = None, **values: Any) -> int:
        """The contact rows written so far in this transaction, after the change if any."""
        if attempt_id is not None:
            connection.execute(update(attempts).where(attempts.c.id == attempt_id).values(values))
        return int(
            connection.execute(
                text("SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'contacts'")
            ).scalar_one()
        )

    with database.write() as connection:
        first = add(connection, 1)
        assert writes(connection) == 1  # first and last: one write
        assert writes(connection, first, provider_call_id="call-1") == 2
        assert writes(connection, first, sent_at=later(2)) == 2  # not a summary's value
        second = add(connection, 2)
        assert writes(connection) == 3  # the last only
        assert writes(connection, first, dtmf="9") == 3  # no longer the last: nothing to copy
        assert writes(connection, second, provider_call_id="call-2") == 4
        assert writes(connection, first, provider_call_id="call-1b") == 5
    assert_summaries_match(database)
