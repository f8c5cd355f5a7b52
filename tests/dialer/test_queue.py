"""store.queue: claiming due contacts and creating their attempts, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import threading
from datetime import UTC, datetime, timedelta

import pytest
from dialer_helpers import add_contacts, attempt_rows, contact_rows, make_campaign, us_numbers
from sqlalchemy import insert, update

from campaigner.db import Database
from campaigner.db.schema import attempts, contacts
from campaigner.model import CampaignStatus, ContactState, Outcome
from campaigner.reports.exports import Format, export
from campaigner.reports.queries import Filters
from campaigner.store.campaigns import cancel_campaign, get_campaign_by_id, set_status
from campaigner.store.queue import (
    DueContact,
    Uncallable,
    claim_due,
    live_attempt_ids,
    live_attempts,
    outlook,
    release_unsent,
)
from campaigner.store.suppressions import add_suppressions

# A Wednesday, 15:00 UTC = 10:00 in New York, 07:00 in Los Angeles, 16:00 in Paris.
NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)


def phone_of(contact: DueContact, key: str) -> str:
    return contact.phone


def claim(database: Database, campaign_id: int, limit: int = 100, now: datetime = NOW):  # type: ignore[no-untyped-def]
    with database.write() as connection:
        campaign = get_campaign_by_id(connection, campaign_id)
        return claim_due(connection, campaign, now, limit, phone_of)


def test_a_claim_creates_each_attempt_and_marks_its_contact_in_progress(database: Database) -> None:
    campaign = make_campaign(database)
    phones = us_numbers(3)
    add_contacts(database, campaign, phones)

    batch = claim(database, campaign.id)

    assert [c.contact.phone for c in batch.claimed] == phones
    assert [c.request for c in batch.claimed] == phones  # what `prepare` built
    assert all(len(c.correlation_key) == 32 for c in batch.claimed)
    rows = attempt_rows(database, campaign)
    assert [(r["phone"], r["attempt_number"], r["progress"], r["outcome"]) for r in rows] == [
        (phone, 1, "requested", None) for phone in phones
    ]
    assert {r["correlation_key"] for r in rows} == {c.correlation_key for c in batch.claimed}
    assert all(r["requested_at"] == NOW for r in rows)
    contacts_now = contact_rows(database, campaign)
    seen = {p: (c["state"], c["attempts"]) for p, c in contacts_now.items()}
    assert seen == dict.fromkeys(phones, ("in_progress", 1))


def test_each_call_records_its_local_time_under_the_zone_rules_of_that_moment(
    database: Database,
) -> None:
    """`requested_local` is the claim's time in each contact's zone, the fraction dropped; a
    contact called before and after New York's change to summer time (8 March 2026) has each
    call's own offset, kept as its first and last call's and printed so by the report."""
    campaign = make_campaign(database)
    york, paris, kolkata = us_numbers(3)
    zones = {paris: "Europe/Paris", kolkata: "Asia/Kolkata"}
    add_contacts(database, campaign, [york, paris, kolkata], zones=zones)
    claim(database, campaign.id)
    with database.write() as connection:  # busy: New York's contact is due again
        connection.execute(update(attempts).values(outcome="busy", progress="ended"))
        connection.execute(update(contacts).where(contacts.c.phone == york).values(state="pending"))
    claim(database, campaign.id, now=datetime(2026, 3, 9, 15, 0, 0, 750_000, tzinfo=UTC))

    assert [(r["phone"], r["requested_local"]) for r in attempt_rows(database, campaign)] == [
        (york, "2026-03-04T10:00:00-05:00"),
        (paris, "2026-03-04T16:00:00+01:00"),
        (kolkata, "2026-03-04T20:30:00+05:30"),
        (york, "2026-03-09T11:00:00-04:00"),
    ]
    row = contact_rows(database, campaign)[york]
    assert (row["first_call_local"], row["last_call_local"]) == (
        "2026-03-04T10:00:00-05:00",
        "2026-03-09T11:00:00-04:00",
    )
    out = io.StringIO()
    with database.read() as connection:
        export(connection, campaign, Format.CSV, out, filters=Filters())
    reported = {row["phone"]: row for row in csv.DictReader(io.StringIO(out.getvalue()))}
    assert (reported[york]["first_call_local"], reported[york]["last_call_local"]) == (
        "2026-03-04T10:00:00-05:00",
        "2026-03-09T11:00:00-04:00",
    )


def test_a_contact_is_never_claimed_twice(database: Database) -> None:
    campaign = make_campaign(database)
    add_contacts(database, campaign, us_numbers(3))

    first = claim(database, campaign.id)
    second = claim(database, campaign.id)

    assert len(first.claimed) == 3
    assert second.claimed == []


def test_concurrent_claims_share_the_contacts_out(database: Database) -> None:
    campaign = make_campaign(database)
    add_contacts(database, campaign, us_numbers(200))
    results: list[list[int]] = []

    def worker() -> None:
        claimed: list[int] = []
        while batch := claim(database, campaign.id, limit=7).claimed:
            claimed.extend(c.contact.contact_id for c in batch)
        results.append(claimed)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    every = [contact_id for claimed in results for contact_id in claimed]
    assert len(every) == 200
    assert len(set(every)) == 200


def test_the_soonest_due_come_first_and_the_limit_holds(database: Database) -> None:
    campaign = make_campaign(database)
    late, early, future = us_numbers(3)
    add_contacts(database, campaign, [late], next_attempt_at=NOW - timedelta(minutes=1))
    add_contacts(database, campaign, [early], next_attempt_at=NOW - timedelta(hours=1))
    add_contacts(database, campaign, [future], next_attempt_at=NOW + timedelta(seconds=1))

    batch = claim(database, campaign.id, limit=1)
    rest = claim(database, campaign.id)

    assert [c.contact.phone for c in batch.claimed] == [early]
    assert [c.contact.phone for c in rest.claimed] == [late]
    assert contact_rows(database, campaign)[future]["state"] == "pending"


def test_a_contact_without_a_due_time_is_due(database: Database) -> None:
    campaign = make_campaign(database)
    add_contacts(database, campaign, us_numbers(1), next_attempt_at=None)

    assert len(claim(database, campaign.id).claimed) == 1


def test_suppressed_numbers_are_never_claimed(database: Database) -> None:
    campaign = make_campaign(database)
    other = make_campaign(database, name="other")
    global_dnc, campaign_dnc, other_dnc, fine = us_numbers(4)
    add_contacts(database, campaign, [global_dnc, campaign_dnc, other_dnc, fine])
    with database.write() as connection:  # after the import: suppressed mid-campaign
        add_suppressions(connection, {global_dnc: None}, None, "manual")
        add_suppressions(connection, {campaign_dnc: None}, campaign.id, "manual")
        add_suppressions(connection, {other_dnc: None}, other.id, "manual")
        connection.execute(  # as if a number were suppressed between two looks
            update(contacts).values(state=ContactState.PENDING.value)
        )

    batch = claim(database, campaign.id)

    assert sorted(c.contact.phone for c in batch.claimed) == sorted([other_dnc, fine])
    assert batch.suppressed == 2
    states = {p: c["state"] for p, c in contact_rows(database, campaign).items()}
    assert states[global_dnc] == states[campaign_dnc] == "suppressed"
    assert {r["phone"] for r in attempt_rows(database, campaign)} == {other_dnc, fine}


@pytest.mark.parametrize(
    ("zone", "window", "days", "opens"),
    [
        # 07:00 in Los Angeles: opens at 09:00 local, 17:00 UTC.
        ("America/Los_Angeles", "09:00-17:00", "daily", datetime(2026, 3, 4, 17, tzinfo=UTC)),
        # 16:00 in Paris, window closed at 15:00: opens tomorrow 09:00 CET = 08:00 UTC.
        ("Europe/Paris", "09:00-15:00", "daily", datetime(2026, 3, 5, 8, tzinfo=UTC)),
        # 10:00 on a Wednesday in New York, weekends only: Saturday 09:00 EST.
        ("America/New_York", "09:00-17:00", "sat,sun", datetime(2026, 3, 7, 14, tzinfo=UTC)),
    ],
)
def test_a_contact_outside_its_window_waits_for_it(
    database: Database, zone: str, window: str, days: str, opens: datetime
) -> None:
    campaign = make_campaign(database, window=window, days=days)
    waiting, open_now = us_numbers(2)
    add_contacts(database, campaign, [waiting], timezone=zone)
    add_contacts(database, campaign, [open_now], timezone="America/Chicago")  # 09:00 in Chicago
    if days == "sat,sun":
        add_contacts(database, campaign, us_numbers(3)[2:], timezone="America/New_York")

    batch = claim(database, campaign.id)

    row = contact_rows(database, campaign)[waiting]
    assert (row["state"], row["attempts"], row["next_attempt_at"]) == ("pending", 0, opens)
    assert waiting not in {c.contact.phone for c in batch.claimed}
    assert batch.deferred >= 1


def test_deferred_contacts_do_not_leave_a_batch_empty(database: Database) -> None:
    campaign = make_campaign(database, window="09:00-17:00")
    closed = us_numbers(6)
    add_contacts(database, campaign, closed, timezone="America/Los_Angeles")
    add_contacts(
        database,
        campaign,
        ["+13125550100", "+13125550101"],
        timezone="America/Chicago",
        next_attempt_at=datetime(2026, 3, 2, tzinfo=UTC),
    )  # due later than the others

    batch = claim(database, campaign.id, limit=2)

    assert sorted(c.contact.phone for c in batch.claimed) == ["+13125550100", "+13125550101"]
    assert batch.deferred == 6


@pytest.mark.parametrize("status", [CampaignStatus.DRAFT, CampaignStatus.PAUSED])
def test_nothing_is_claimed_unless_the_campaign_is_running(
    database: Database, status: CampaignStatus
) -> None:
    campaign = make_campaign(database, status=status)
    add_contacts(database, campaign, us_numbers(2))

    batch = claim(database, campaign.id)

    assert (batch.status, batch.claimed) == (status, [])
    assert attempt_rows(database, campaign) == []


def test_a_contact_the_provider_cannot_call_is_final_without_a_call(database: Database) -> None:
    campaign = make_campaign(database)
    bad, good = us_numbers(2)
    add_contacts(database, campaign, [bad, good])

    def prepare(contact: DueContact, key: str) -> str:
        if contact.phone == bad:
            raise Uncallable(Outcome.INVALID_NUMBER, "the provider cannot dial this number")
        return key

    with database.write() as connection:
        batch = claim_due(connection, campaign, NOW, 10, prepare)

    assert [c.contact.phone for c in batch.claimed] == [good]
    assert batch.uncallable == 1
    row = contact_rows(database, campaign)[bad]
    assert (row["state"], row["attempts"], row["last_outcome"]) == (
        "invalid_number",
        0,
        "invalid_number",
    )
    (attempt,) = [a for a in attempt_rows(database, campaign) if a["phone"] == bad]
    assert (attempt["outcome"], attempt["error"], attempt["requested_local"]) == (
        "invalid_number",
        "the provider cannot dial this number",
        "2026-03-04T10:00:00-05:00",
    )


def test_the_attempt_number_follows_the_highest_recorded(database: Database) -> None:
    campaign = make_campaign(database)
    (phone,) = us_numbers(1)
    add_contacts(database, campaign, [phone])
    first = claim(database, campaign.id).claimed[0]
    with database.write() as connection:  # refused: not a call; the contact is due again
        connection.execute(
            update(attempts)
            .where(attempts.c.id == first.attempt_id)
            .values(outcome="rejected_request")
        )
        connection.execute(update(contacts).values(state=ContactState.PENDING.value, attempts=0))

    second = claim(database, campaign.id).claimed[0]

    assert (first.attempt_number, second.attempt_number) == (1, 2)
    assert contact_rows(database, campaign)[phone]["attempts"] == 1


def test_released_claims_are_due_again_and_leave_no_attempt(database: Database) -> None:
    campaign = make_campaign(database)
    now_due, later = us_numbers(2)
    add_contacts(database, campaign, [now_due, later])
    claimed = {c.contact.phone: c for c in claim(database, campaign.id).claimed}
    opening = NOW + timedelta(hours=2)

    with database.write() as connection:
        released = release_unsent(
            connection,
            campaign.id,
            {claimed[now_due].attempt_id: None, claimed[later].attempt_id: opening},
            NOW,
        )

    assert sorted(released) == sorted(c.attempt_id for c in claimed.values())
    assert attempt_rows(database, campaign) == []
    rows = contact_rows(database, campaign)
    assert (rows[now_due]["state"], rows[now_due]["attempts"]) == ("pending", 0)
    assert rows[now_due]["next_attempt_at"] == datetime(2026, 3, 1, tzinfo=UTC)
    assert (rows[later]["state"], rows[later]["next_attempt_at"]) == ("pending", opening)


def test_a_released_claim_follows_a_cancel_or_a_suppression(database: Database) -> None:
    campaign = make_campaign(database)
    suppressed, other = us_numbers(2)
    add_contacts(database, campaign, [suppressed, other])
    claimed = claim(database, campaign.id).claimed
    with database.write() as connection:
        add_suppressions(connection, {suppressed: None}, None, "manual")
        cancel_campaign(connection, get_campaign_by_id(connection, campaign.id), "stop")

    with database.write() as connection:
        release_unsent(connection, campaign.id, {c.attempt_id: None for c in claimed}, NOW)

    states = {p: c["state"] for p, c in contact_rows(database, campaign).items()}
    assert states == {suppressed: "suppressed", other: "cancelled"}


def test_an_answered_attempt_is_never_released(database: Database) -> None:
    campaign = make_campaign(database)
    add_contacts(database, campaign, us_numbers(1))
    (claimed,) = claim(database, campaign.id).claimed
    with database.write() as connection:
        connection.execute(update(attempts).values(provider_call_id="call-1"))
        released = release_unsent(connection, campaign.id, {claimed.attempt_id: None}, NOW)

    assert released == []
    assert len(attempt_rows(database, campaign)) == 1


def test_live_attempts_and_the_outlook(database: Database) -> None:
    campaign = make_campaign(database)
    phones = us_numbers(4)
    add_contacts(database, campaign, phones[:3])
    add_contacts(database, campaign, phones[3:], next_attempt_at=NOW + timedelta(hours=1))
    claimed = claim(database, campaign.id, limit=2).claimed
    other = make_campaign(database, name="other")
    with database.write() as connection:
        connection.execute(
            update(attempts).where(attempts.c.id == claimed[0].attempt_id).values(outcome="busy")
        )
        connection.execute(
            insert(attempts).values(  # another campaign's live attempt does not count
                contact_id=claimed[0].contact.contact_id,
                campaign_id=other.id,
                attempt_number=9,
                provider="enablex",
                correlation_key="x" * 32,
                progress="requested",
                requested_at=NOW,
            )
        )

    with database.read() as connection:
        ids = live_attempt_ids(connection, campaign.id)
        old = live_attempts(connection, campaign.id, NOW + timedelta(seconds=1))
        none_yet = live_attempts(connection, campaign.id, NOW)
        look = outlook(connection, campaign.id)

    assert ids == {claimed[1].attempt_id}
    assert [(a.attempt_id, a.correlation_key, a.contact.phone) for a in old] == [
        (claimed[1].attempt_id, claimed[1].correlation_key, claimed[1].contact.phone)
    ]
    assert none_yet == []
    assert (look.pending, look.in_progress) == (2, 2)
    assert look.next_due == datetime(2026, 3, 1, tzinfo=UTC)


def test_the_outlook_of_a_finished_campaign(database: Database) -> None:
    campaign = make_campaign(database)
    add_contacts(database, campaign, us_numbers(1), state=ContactState.DELIVERED)
    with database.write() as connection:
        set_status(connection, campaign, CampaignStatus.PAUSED)
        look = outlook(connection, campaign.id)
    assert (look.pending, look.in_progress, look.next_due) == (0, 0, None)
