"""The outbox on both backends: rows written once, claimed with a lease by one sender at a
time, retried with backoff and jitter, and a cancel or a completion writing its own."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from cli_helpers import add_contact
from sqlalchemy import select, update

from campaigner.campaigns import Campaign, CampaignSettings, Message
from campaigner.db import Database
from campaigner.db.schema import contacts, notifications
from campaigner.model import CampaignStatus, ContactState, MessageKind, Provider
from campaigner.notifications import (
    NotificationSender,
    notify_campaign,
    notify_contacts,
    sign,
    verify,
)
from campaigner.notifications._outbox import Result, claim_due, record_results
from campaigner.store.campaigns import cancel_campaign, create_campaign, set_status
from campaigner.store.suppressions import add_suppressions

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def campaign_with(database: Database, url: str | None, name: str = "spring") -> Campaign:
    settings = CampaignSettings(
        name, Provider.ENABLEX, "+13215550100", Message(MessageKind.TTS, "Hi"), notify_url=url
    ).validate()
    with database.write() as connection:
        return create_campaign(connection, settings)


def finish(database: Database, phones: Sequence[str], state: ContactState) -> list[int]:
    with database.write() as connection:
        connection.execute(
            update(contacts).where(contacts.c.phone.in_(phones)).values(state=state.value)
        )
        return list(
            connection.execute(select(contacts.c.id).where(contacts.c.phone.in_(phones))).scalars()
        )


def rows(database: Database) -> list[dict[str, object]]:
    with database.read() as connection:
        found = connection.execute(select(notifications).order_by(notifications.c.id))
        return [dict(row) for row in found.mappings()]


def test_a_final_contact_is_written_once_with_a_stable_id(database: Database) -> None:
    campaign_with(database, "https://crm.test/hook")
    campaign_with(database, None, name="quiet")
    add_contact(database, "spring", "+12125550100", fields={"customer": "C-1"})
    add_contact(database, "spring", "+12125550101")
    add_contact(database, "quiet", "+12125550102")
    ids = finish(database, ["+12125550100", "+12125550102"], ContactState.DELIVERED)

    with database.write() as connection:
        assert notify_contacts(connection, ids, NOW) == 1  # the quiet campaign has no URL
        assert notify_contacts(connection, ids, NOW) == 0  # again: nothing new

    (row,) = rows(database)
    payload = json.loads(str(row["payload"]))
    assert row["notification_id"] == payload["id"]
    assert (row["kind"], row["url"], row["attempts"]) == (
        "contact.final",
        "https://crm.test/hook",
        0,
    )
    assert payload["contact"] | {"id": None} == {
        "id": None,
        "phone": "+12125550100",
        "state": "delivered",
        "last_outcome": None,
        "attempts": 0,
        "response": None,
        "responded_at": None,
        "opted_out": False,
        "fields": {"customer": "C-1"},
    }
    assert payload["campaign"]["name"] == "spring"


def test_cancelling_notifies_each_pending_contact_and_the_campaign(database: Database) -> None:
    campaign = campaign_with(database, "https://crm.test/hook")
    for phone in ("+12125550100", "+12125550101"):
        add_contact(database, "spring", phone)

    with database.write() as connection:
        running = set_status(connection, campaign, CampaignStatus.RUNNING)
        cancel_campaign(connection, running, "wrong list")

    kinds = [row["kind"] for row in rows(database)]
    assert sorted(kinds) == ["campaign.cancelled", "contact.final", "contact.final"]
    (done,) = [json.loads(str(r["payload"])) for r in rows(database) if r["contact_id"] is None]
    assert done["campaign"]["contacts"] == {"cancelled": 2}


def test_each_completion_is_notified_with_contacts_left_unnotified(database: Database) -> None:
    campaign = campaign_with(database, "https://crm.test/hook")
    add_contact(database, "spring", "+12125550100", state=ContactState.SUPPRESSED)
    with database.write() as connection:
        campaign = set_status(connection, campaign, CampaignStatus.RUNNING)
        campaign = set_status(connection, campaign, CampaignStatus.COMPLETED)
        campaign = set_status(connection, campaign, CampaignStatus.RUNNING)
        notify_campaign(connection, campaign.id, NOW)

    kinds = sorted(str(row["kind"]) for row in rows(database))
    assert kinds == ["campaign.completed", "campaign.completed", "contact.final"]
    assert len({row["notification_id"] for row in rows(database)}) == 3


def test_a_claimed_row_is_not_claimed_again_until_its_lease_ends(database: Database) -> None:
    campaign_with(database, "https://crm.test/hook")
    add_contact(database, "spring", "+12125550100")
    add_contact(database, "spring", "+12125550101")
    ids = finish(database, ["+12125550100", "+12125550101"], ContactState.DELIVERED)
    with database.write() as connection:
        notify_contacts(connection, ids, NOW)

    with database.write() as connection:
        first = claim_due(connection, NOW, 1, lease=60)
    with database.write() as connection:
        second = claim_due(connection, NOW, 10, lease=60)
    with database.write() as connection:
        none_left = claim_due(connection, NOW + timedelta(seconds=59), 10, lease=60)
    with database.write() as connection:
        expired = claim_due(connection, NOW + timedelta(seconds=61), 10, lease=60)

    assert len(first) == len(second) == 1
    assert first[0].id != second[0].id
    assert none_left == []
    assert sorted(item.id for item in expired) == sorted([first[0].id, second[0].id])

    with database.write() as connection:
        later = NOW + timedelta(minutes=5)
        record_results(
            connection,
            [Result(first[0].id, True), Result(second[0].id, False, "HTTP 503", later)],
            NOW,
        )
    by_id = {row["id"]: row for row in rows(database)}
    assert by_id[first[0].id]["delivered_at"] == NOW
    assert (by_id[second[0].id]["last_error"], by_id[second[0].id]["attempts"]) == ("HTTP 503", 1)
    assert by_id[second[0].id]["next_attempt_at"] == later


@pytest.mark.postgres_only
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_senders_claiming_at_once_take_different_rows(database: Database) -> None:
    campaign_with(database, "https://crm.test/hook")
    phones = [f"+1212555{index:04d}" for index in range(100, 106)]
    for phone in phones:
        add_contact(database, "spring", phone)
    with database.write() as connection:
        notify_contacts(connection, finish(database, phones, ContactState.DELIVERED), NOW)

    with database.write() as first, database.write() as second:
        mine = claim_due(first, NOW, 3, lease=60)  # still uncommitted: its rows are locked
        theirs = claim_due(second, NOW, 10, lease=60)

    assert len(mine) == 3
    assert len(theirs) == 3
    assert not {item.id for item in mine} & {item.id for item in theirs}


@pytest.mark.parametrize(
    ("tries", "low", "high"),
    [(1, 2.5, 5.0), (2, 5.0, 10.0), (4, 20.0, 40.0), (20, 1800.0, 3600.0)],
)
def test_retries_back_off_exponentially_with_jitter_up_to_the_cap(
    tries: int, low: float, high: float
) -> None:
    sender = NotificationSender(None, "secret", rng=random.Random(1))  # type: ignore[arg-type]
    delays = [sender.retry_delay(tries) for _ in range(50)]
    assert all(low <= delay < high for delay in delays)
    assert len(set(delays)) > 1


def test_the_signature_is_the_hmac_sha256_of_the_exact_body() -> None:
    # RFC 4231, test case 2.
    expected = "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    body = b"what do ya want for nothing?"
    assert sign("Jefe", body) == expected
    assert verify("Jefe", body, expected)
    assert not verify("Jefe", body + b" ", expected)
    assert not verify("Jefe", body, expected.removeprefix("sha256="))
    assert not verify("Jefe", body, None)


def test_suppressing_a_number_notifies_its_pending_contacts(database: Database) -> None:
    campaign_with(database, "https://crm.test/hook")
    campaign_with(database, None, name="quiet")
    add_contact(database, "spring", "+12125550100")
    add_contact(database, "quiet", "+12125550100")

    with database.write() as connection:
        add_suppressions(connection, {"+12125550100": "asked by phone"}, None, "manual")

    (row,) = rows(database)
    contact = json.loads(str(row["payload"]))["contact"]
    assert (contact["phone"], contact["state"]) == ("+12125550100", "suppressed")


def test_the_store_writes_notifications_without_loading_the_sender() -> None:
    """The store's modules import `notify_contacts`; the sender's httpx and anyio are loaded
    only by the commands that send (`campaigner report` starts ~0.05 s sooner)."""
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, campaigner.store.campaigns, campaigner.notifications as n; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'httpx', 'anyio'})); "
            "print(n.NotificationSender.__name__)",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert loaded.split() == ["[]", "NotificationSender"]
