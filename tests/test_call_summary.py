"""The first and last call kept on each contact (migration 0010's triggers) agree with attempts
after every kind of write: a call placed, its answer, a late hang-up, a call id arriving after
the outcome, an earlier attempt changed, a claim undone (its attempt deleted)."""

from __future__ import annotations

from typing import Any

from attempts_helpers import (
    NOW,
    assert_summaries_match,
    later,
    make_campaign,
    make_contact,
    start_attempt,
)
from sqlalchemy import delete, func, select, update

from campaigner.db import Database
from campaigner.db.schema import attempts, contacts


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
    _change(database, first, provider_call_id="call-1", answered_at=later(5))
    assert_summaries_match(database)
    _change(database, first, outcome="busy", provider_reason="=busy", ended_at=later(9))
    assert_summaries_match(database)

    second, _ = start_attempt(database, one, requested_at=later(600))
    with database.read() as connection:
        row = connection.execute(select(contacts).where(contacts.c.id == one)).mappings().one()
    assert (row["last_call_at"], row["last_call_id"]) == (later(600), None)
    assert (row["first_call_at"], row["first_call_id"]) == (NOW, "call-1")
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
