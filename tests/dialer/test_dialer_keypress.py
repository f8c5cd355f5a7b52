"""Keypress responses end to end: EnableX (simulated) collects a key after the message, the
receiver records it, and the opt-out key puts the number on the do-not-call list for good.

The simulator presses a fixed key per number, and its ledger holds every call placed: the proof
that an opted-out number is never dialled again, in any campaign.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import anyio
import pytest
from cli_helpers import run as cli_run
from dialer_helpers import (
    CALLER_ID,
    add_contacts,
    attempt_rows,
    contact_rows,
    run_dialer,
    simulator_settings,
    us_numbers,
)
from sqlalchemy import select

from campaigner.campaigns import Campaign, CampaignSettings, Message, RetryPolicy
from campaigner.db import Database
from campaigner.db.schema import suppressions
from campaigner.dialer.engine import Dialer
from campaigner.dialer.reporting import reporter_for
from campaigner.dialer.sending import Withdrawn
from campaigner.dialer.stopping import ExitCode
from campaigner.model import RETRYABLE_OUTCOMES, CampaignStatus, ContactState, MessageKind, Provider
from campaigner.providers import adapter_for
from campaigner.responses import KeyMenu
from campaigner.simulator import (
    Behaviour,
    Simulator,
    SimulatorConfig,
    outcome_mix,
    running_simulator,
)
from campaigner.store.campaigns import create_campaign, set_status
from campaigner.store.queue import DueContact
from campaigner.store.suppressions import (
    add_suppressions,
    last_suppression_id,
    suppressed_since,
)
from campaigner.windows import CallingWindow

PHONES = us_numbers(6)
CONFIRMS, CANCELS, OPTS_OUT, SILENT, STRAY = PHONES[:5]
KEYS = {CONFIRMS: "1", CANCELS: "2", OPTS_OUT: "9", SILENT: "none", STRAY: "5"}
MENU = KeyMenu(keys={"1": "confirmed", "2": "cancelled"}, opt_out_key="9", key_timeout=8)


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    behaviour = Behaviour(seed=3, mix=outcome_mix("delivered=1"), keys=KEYS)
    with running_simulator(SimulatorConfig(behaviour=behaviour)) as running:
        yield running


def keyed_campaign(
    database: Database, name: str, *, keys: KeyMenu = MENU, status: CampaignStatus | None = None
) -> Campaign:
    settings = CampaignSettings(
        name=name,
        provider=Provider.ENABLEX,
        caller_id=CALLER_ID,
        message=Message(MessageKind.TTS, "Hello {first_name}. Press 1 to confirm, 2 to cancel."),
        calls_per_second=50,
        max_in_flight=10,
        retry=RetryPolicy(max_attempts=3, delays=dict.fromkeys(RETRYABLE_OUTCOMES, 0)),
        window=CallingWindow.parse("00:00-24:00", "daily"),
        default_region="US",
        default_timezone="America/New_York",
        keys=keys,
    ).validate()
    with database.write() as connection:
        campaign = create_campaign(connection, settings)
        return set_status(connection, campaign, status or CampaignStatus.RUNNING)


def test_keys_become_responses_and_the_opt_out_lists_the_number(
    database: Database, simulator: Simulator
) -> None:
    campaign = keyed_campaign(database, "appointments")
    add_contacts(database, campaign, PHONES)

    run = run_dialer(database, campaign, simulator)

    assert run.result.exit_code is ExitCode.DONE, run.output
    rows = contact_rows(database, campaign)
    responses = {phone: row["response"] for phone, row in rows.items()}
    assert responses == {
        CONFIRMS: "confirmed",
        CANCELS: "cancelled",
        OPTS_OUT: "opt_out",
        SILENT: None,
        STRAY: "other",
        PHONES[5]: responses[PHONES[5]],  # the simulator's mix
    }
    assert all(row["state"] == "delivered" for row in rows.values())
    assert rows[CONFIRMS]["responded_at"] is not None
    assert rows[SILENT]["responded_at"] is None
    digits = {row["phone"]: row["dtmf"] for row in attempt_rows(database, campaign)}
    assert digits[OPTS_OUT] == "9"
    assert digits[SILENT] is None
    with database.read() as connection:
        listed = connection.execute(select(suppressions)).mappings().all()
    assert [
        (r["phone"], r["campaign_id"], r["source"], r["source_campaign_id"]) for r in listed
    ] == [(OPTS_OUT, None, "keypress", campaign.id)]
    report = cli_run(database.url, "report", "appointments", "--format", "jsonl")
    reported = {row["phone"]: row for row in map(json.loads, report.output.splitlines())}
    assert {phone: reported[phone]["response"] for phone in responses} == responses
    assert reported[OPTS_OUT]["dtmf"] == "9"


def test_an_opted_out_number_is_never_dialled_again_in_any_campaign(
    database: Database, simulator: Simulator
) -> None:
    first = keyed_campaign(database, "first")
    second = keyed_campaign(database, "second", keys=KeyMenu())
    add_contacts(database, first, [OPTS_OUT, CONFIRMS])
    # In the second campaign the number waits for a retry (busy last time), the other is due.
    later = datetime.now(UTC) + timedelta(seconds=2)
    add_contacts(database, second, [OPTS_OUT], next_attempt_at=later)
    add_contacts(database, second, [CANCELS])

    first_run = run_dialer(database, first, simulator)

    assert first_run.result.exit_code is ExitCode.DONE, first_run.output
    assert contact_rows(database, second)[OPTS_OUT]["state"] == ContactState.SUPPRESSED
    assert contact_rows(database, second)[CANCELS]["state"] == ContactState.PENDING

    second_run = run_dialer(database, second, simulator)

    assert second_run.result.exit_code is ExitCode.DONE, second_run.output
    assert contact_rows(database, second)[OPTS_OUT]["state"] == ContactState.SUPPRESSED
    placed = simulator.ledger.calls_per_number()
    assert placed[OPTS_OUT] == 1  # the call on which the key was pressed, and never again
    assert placed[CONFIRMS] == 1
    assert placed[CANCELS] == 1


# SQLite only: there the run paces itself, so its dial task can be driven alone; the check it
# makes is the same on both backends (and `suppressed_since` is plain SQL).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_claim_whose_number_is_listed_before_its_turn_is_not_sent(
    database: Database, simulator: Simulator
) -> None:
    """The window between a claim and its dial: the number listed meanwhile (by another process,
    seen by the dialer's do-not-call watch) stops the request just before it is written."""
    campaign = keyed_campaign(database, "claims")
    other = keyed_campaign(database, "other", keys=KeyMenu())
    adapter = adapter_for(Provider.ENABLEX)
    credentials = adapter.credentials(simulator_settings(simulator))
    reporter = reporter_for(io.StringIO(), "json")
    dialer = Dialer(database, campaign, adapter, credentials, reporter)
    contact = DueContact(1, OPTS_OUT, {}, "America/New_York")
    with database.write() as connection:
        before = last_suppression_id(connection)
        add_suppressions(connection, {OPTS_OUT: "pressed 9"}, None, "keypress")
        add_suppressions(connection, {CANCELS: None}, other.id, "manual")
    with database.read() as connection:
        newest, listed = suppressed_since(connection, campaign.id, before)
    assert listed == [OPTS_OUT]  # another campaign's own list does not concern this one
    assert newest > before
    dialer.blocked.update(listed)

    async def ready() -> None:
        await dialer.sender._ready(1, contact)

    with pytest.raises(Withdrawn):
        anyio.run(ready)


def test_no_key_replays_the_message_once(database: Database) -> None:
    late, never = us_numbers(2, area="305")
    behaviour = Behaviour(
        seed=4, mix=outcome_mix("delivered=1"), keys={late: "none,1", never: "none"}
    )
    replaying = KeyMenu(keys={"1": "confirmed"}, opt_out_key="9", replay_on_no_input=True)
    with running_simulator(SimulatorConfig(behaviour=behaviour)) as simulator:
        campaign = keyed_campaign(database, "replay", keys=replaying)
        add_contacts(database, campaign, [late, never])

        run = run_dialer(database, campaign, simulator)

        assert run.result.exit_code is ExitCode.DONE, run.output
        rows = contact_rows(database, campaign)
        assert {phone: (row["state"], row["response"]) for phone, row in rows.items()} == {
            late: ("delivered", "confirmed"),  # pressed 1 when the message was played again
            never: ("delivered", None),
        }
        calls = {record.to: record.call_id for record in simulator.ledger.placed()}
        assert len(calls) == 2  # one call each: the replay is on the same call
        for phone, last in ((late, "digitcollected"), (never, "menutimeout")):
            events = [w.event for w in simulator.ledger.webhooks_for(str(calls[phone]))]
            assert events.count("menutimeout") == (1 if phone == late else 2)
            assert events.count("initiated") == 2  # the message, then its replay
            assert last in events
        assert sorted(h.kind for h in simulator.ledger.hangups) == ["after_play", "after_play"]
