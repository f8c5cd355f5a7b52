"""Outcome notifications end to end: the target is down while the campaign runs, campaigner
stops, the target comes back, campaigner runs again: every notification arrives, signed, and
deduplicated by its id the target holds exactly one per contact and one for the campaign."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import pytest
from dialer_helpers import (
    CALLER_ID,
    add_contacts,
    free_port,
    run_dialer,
    simulator_settings,
    us_numbers,
)
from notify_helpers import SECRET, Target, signed
from sqlalchemy import select

from campaigner.campaigns import Campaign, CampaignSettings, Message, RetryPolicy
from campaigner.config import Settings
from campaigner.db import Database
from campaigner.db.schema import notifications
from campaigner.dialer.stopping import ExitCode
from campaigner.errors import ConfigError
from campaigner.model import RETRYABLE_OUTCOMES, CampaignStatus, MessageKind, Outcome, Provider
from campaigner.notifications import ID_HEADER, verify
from campaigner.responses import KeyMenu
from campaigner.simulator import (
    Behaviour,
    Simulator,
    SimulatorConfig,
    outcome_mix,
    running_simulator,
)
from campaigner.store.campaigns import create_campaign, set_status
from campaigner.windows import CallingWindow

PHONES = us_numbers(4)
KEYS = {PHONES[0]: "1", PHONES[1]: "2", PHONES[2]: "9"}
SCRIPTS = {PHONES[3]: (Outcome.BUSY,)}  # busy every time: final after its three attempts


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    behaviour = Behaviour(seed=5, mix=outcome_mix("delivered=1"), keys=KEYS, scripts=SCRIPTS)
    with running_simulator(SimulatorConfig(behaviour=behaviour)) as running:
        yield running


@pytest.fixture
def target() -> Iterator[Target]:
    down = Target(free_port())
    yield down
    down.stop()


def notifying_campaign(database: Database, url: str) -> Campaign:
    settings = CampaignSettings(
        name="reminders",
        provider=Provider.ENABLEX,
        caller_id=CALLER_ID,
        message=Message(MessageKind.TTS, "Hello {first_name}. Press 1 to confirm, 2 to cancel."),
        calls_per_second=50,
        max_in_flight=10,
        retry=RetryPolicy(max_attempts=3, delays=dict.fromkeys(RETRYABLE_OUTCOMES, 0)),
        window=CallingWindow.parse("00:00-24:00", "daily"),
        default_region="US",
        default_timezone="America/New_York",
        keys=KeyMenu(keys={"1": "confirmed", "2": "cancelled"}, opt_out_key="9"),
        notify_url=url,
    ).validate()
    with database.write() as connection:
        return set_status(connection, create_campaign(connection, settings), CampaignStatus.RUNNING)


def with_secret(simulator: Simulator) -> Settings:
    return Settings({**simulator_settings(simulator).values, ("notify", "secret"): SECRET})


def test_notifications_survive_a_target_down_and_a_restart(
    database: Database, simulator: Simulator, target: Target
) -> None:
    campaign = notifying_campaign(database, target.url)
    add_contacts(database, campaign, PHONES)
    settings = with_secret(simulator)

    first = run_dialer(database, campaign, simulator, settings=settings, notify_drain=0)

    assert first.result.exit_code is ExitCode.DONE, first.output
    with database.read() as connection:
        rows = connection.execute(select(notifications)).mappings().all()
    assert Counter(row["kind"] for row in rows) == {"contact.final": 4, "campaign.completed": 1}
    assert all(row["delivered_at"] is None for row in rows)
    assert "not delivered yet" in first.output

    target.fail_first = 1  # the first one it takes is answered 500: sent again, same id
    target.start()
    second = run_dialer(database, campaign, simulator, settings=settings, notify_drain=60)

    assert second.result.exit_code is ExitCode.DONE, second.output
    kept = target.by_id()
    assert len(target.received) == len(kept) + 1  # the one answered 500 came twice
    documents = [item.document for item in kept.values()]
    assert all(signed(item) for item in target.received)
    assert not any(signed(item, "another secret") for item in target.received)
    assert all(item.headers[ID_HEADER.lower()] == item.document["id"] for item in kept.values())
    contacts = [doc["contact"] for doc in documents if doc["type"] == "contact.final"]
    assert sorted(contact["phone"] for contact in contacts) == sorted(PHONES)
    by_phone = {contact["phone"]: contact for contact in contacts}
    assert by_phone[PHONES[0]]["response"] == "confirmed"
    assert by_phone[PHONES[1]]["response"] == "cancelled"
    assert by_phone[PHONES[2]]["response"] == "opt_out"
    assert by_phone[PHONES[2]]["opted_out"] is True
    assert (by_phone[PHONES[3]]["state"], by_phone[PHONES[3]]["attempts"]) == ("busy", 3)
    (completed,) = [doc for doc in documents if doc["type"] == "campaign.completed"]
    assert completed["campaign"]["name"] == "reminders"
    assert completed["campaign"]["contacts"] == {"busy": 1, "delivered": 3}
    assert completed["campaign"]["responses"] == {"cancelled": 1, "confirmed": 1, "opt_out": 1}
    with database.read() as connection:
        rows = connection.execute(select(notifications)).mappings().all()
    assert all(row["delivered_at"] is not None for row in rows)
    # The body sent is the body stored, byte for byte.
    stored = {row["notification_id"]: row["payload"] for row in rows}
    assert all(stored[key].encode() == item.body for key, item in kept.items())
    assert json.loads(next(iter(stored.values())))["id"] in stored


def test_a_campaign_with_a_notify_url_does_not_run_without_the_secret(
    database: Database, simulator: Simulator, target: Target
) -> None:
    campaign = notifying_campaign(database, target.url)
    add_contacts(database, campaign, PHONES[:1])

    with pytest.raises(ConfigError, match="CAMPAIGNER_NOTIFY_SECRET"):
        run_dialer(database, campaign, simulator)

    assert simulator.ledger.placed() == []
    assert verify(SECRET, b"{}", None) is False
