"""Every fault the simulator can inject, survived as the dialer promises (issue 3).

Transient failures (429 with Retry-After, 5xx) are retried with the same request and burn no
attempt; a refusal pauses the campaign with the provider's own words and exits 69; so does the
circuit breaker; a request that hangs is ambiguous and never redialled blind; webhooks that come
twice, late or out of order change nothing; calls whose events never come are reconciled or
failed after the call timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from dialer_helpers import (
    CALLER_ID,
    add_contacts,
    attempt_rows,
    check_ledger,
    contact_rows,
    make_campaign,
    run_dialer,
    simulator_settings,
    us_numbers,
)

from campaigner.config import Settings
from campaigner.db import Database
from campaigner.dialer import ExitCode, ReceiverOptions, Stop
from campaigner.model import CampaignStatus, Outcome, Provider
from campaigner.simulator import (
    Behaviour,
    DialResult,
    FaultPlan,
    Simulator,
    SimulatorConfig,
    Span,
    Timing,
    WebhookPolicy,
    outcome_mix,
    running_simulator,
)
from campaigner.store.campaigns import get_campaign_by_id

ALL_DELIVERED = Behaviour(seed=1, mix=outcome_mix("delivered=1"))
FAST = {"reconcile_interval": 0.2, "status_interval": 0.2}


@contextmanager
def simulating(faults: FaultPlan | None = None, **config: object) -> Iterator[Simulator]:
    setup = SimulatorConfig(behaviour=ALL_DELIVERED, faults=faults or FaultPlan(), **config)  # type: ignore[arg-type]
    with running_simulator(setup) as simulator:
        yield simulator


def campaign_of(database: Database, provider: Provider = Provider.ENABLEX, **settings: object):  # type: ignore[no-untyped-def]
    return make_campaign(database, provider=provider, **settings)


def status_of(database: Database, campaign_id: int) -> tuple[CampaignStatus, str | None]:
    with database.read() as connection:
        campaign = get_campaign_by_id(connection, campaign_id)
    return campaign.status, campaign.status_reason


def test_429_is_honoured_and_burns_no_attempt(database: Database) -> None:
    campaign = campaign_of(database, calls_per_second=20)
    add_contacts(database, campaign, us_numbers(6))
    with simulating(FaultPlan(cps_cap=2, retry_after=1)) as simulator:
        run = run_dialer(database, campaign, simulator)

    assert run.result.stop is Stop.FINISHED, run.output
    assert simulator.ledger.result_counts()[DialResult.RATE_LIMITED.value] > 0
    rows = contact_rows(database, campaign)
    assert {(row["state"], row["attempts"]) for row in rows.values()} == {("delivered", 1)}
    check_ledger(simulator.ledger, database, campaign)


@pytest.mark.parametrize("provider", list(Provider))
def test_a_5xx_burst_is_retried_with_the_same_request(
    database: Database, provider: Provider
) -> None:
    campaign = campaign_of(database, provider)
    add_contacts(database, campaign, us_numbers(4))
    with simulating() as simulator:
        simulator.faults.fail_next(5, status=503)
        run = run_dialer(database, campaign, simulator)

    assert run.result.stop is Stop.FINISHED, run.output
    assert simulator.ledger.result_counts()[DialResult.SERVER_ERROR.value] == 5
    rows = contact_rows(database, campaign)
    assert {(row["state"], row["attempts"]) for row in rows.values()} == {("delivered", 1)}
    check_ledger(simulator.ledger, database, campaign)


def test_the_circuit_breaker_pauses_the_campaign(database: Database) -> None:
    campaign = campaign_of(database)
    add_contacts(database, campaign, us_numbers(3))
    with simulating() as simulator:
        simulator.faults.fail_next(1000, status=500)
        run = run_dialer(database, campaign, simulator, breaker_threshold=4)

    assert (run.result.stop, run.result.exit_code) == (Stop.BREAKER, ExitCode.PROVIDER)
    status, reason = status_of(database, campaign.id)
    assert status is CampaignStatus.PAUSED
    assert reason is not None
    assert "4 provider failures in a row" in reason
    assert "HTTP 500" in reason
    assert simulator.ledger.placed() == []
    rows = contact_rows(database, campaign)
    assert {(row["state"], row["attempts"]) for row in rows.values()} == {("pending", 0)}
    assert attempt_rows(database, campaign) == []  # never sent: the claims were given back


def test_an_unreachable_provider_trips_the_breaker(database: Database) -> None:
    campaign = campaign_of(database)
    add_contacts(database, campaign, us_numbers(3))
    with simulating() as simulator:
        settings = simulator_settings(simulator)
        nowhere = Settings({**settings.values, ("enablex", "base_url"): "http://127.0.0.1:9/v1"})
        run = run_dialer(database, campaign, simulator, settings=nowhere, breaker_threshold=3)

    assert (run.result.stop, run.result.exit_code) == (Stop.BREAKER, ExitCode.PROVIDER)
    assert "cannot reach the provider" in run.result.message
    rows = contact_rows(database, campaign)
    assert {(row["state"], row["attempts"]) for row in rows.values()} == {("pending", 0)}
    assert attempt_rows(database, campaign) == []


@pytest.mark.parametrize(
    ("provider", "broken", "words"),
    [
        (Provider.ENABLEX, ("enablex", "app_key"), "Unauthorized"),
        (Provider.FRACTEL, ("fractel", "token"), "invalid API token"),
        (Provider.WEBEX, ("webex", "service_key"), "Authentication failed"),
    ],
)
def test_a_refusal_pauses_the_campaign_with_the_providers_words(
    database: Database, provider: Provider, broken: tuple[str, str], words: str
) -> None:
    campaign = campaign_of(database, provider)
    add_contacts(database, campaign, us_numbers(3))
    with simulating() as simulator:
        good = simulator_settings(simulator)
        settings = Settings({**good.values, broken: "wrong-secret"})
        run = run_dialer(database, campaign, simulator, settings=settings)

    assert (run.result.stop, run.result.exit_code) == (Stop.REFUSED, ExitCode.PROVIDER)
    assert words in run.result.message
    status, reason = status_of(database, campaign.id)
    assert status is CampaignStatus.PAUSED
    assert reason is not None
    assert words in reason
    assert simulator.ledger.placed() == []
    rows = contact_rows(database, campaign)
    assert {(row["state"], row["attempts"]) for row in rows.values()} == {("pending", 0)}
    refused = [a for a in attempt_rows(database, campaign) if a["outcome"]]
    assert refused
    assert all(a["outcome"] == "rejected_request" and words in a["error"] for a in refused)


def test_a_caller_id_the_account_does_not_have_is_refused(database: Database) -> None:
    campaign = campaign_of(database)
    add_contacts(database, campaign, us_numbers(1))
    config = {"caller_ids": frozenset({"+13215550177"}), "behaviour": ALL_DELIVERED}
    assert CALLER_ID not in config["caller_ids"]  # type: ignore[operator]
    with running_simulator(SimulatorConfig(**config)) as simulator:  # type: ignore[arg-type]
        run = run_dialer(database, campaign, simulator)

    assert run.result.exit_code is ExitCode.PROVIDER
    assert "6118: Phone number not found for the service" in run.result.message


@pytest.mark.parametrize("places_call", [True, False])
@pytest.mark.parametrize("provider", [Provider.ENABLEX, Provider.WEBEX])
def test_a_hung_request_is_sent_again_with_its_idempotency_key(
    database: Database, provider: Provider, places_call: bool
) -> None:
    campaign = campaign_of(database, provider)
    phones = us_numbers(3)
    add_contacts(database, campaign, phones)
    with simulating() as simulator:
        simulator.faults.hang_next(1, places_call=places_call)
        run = run_dialer(database, campaign, simulator, timeouts=_short_read(), **FAST)

    assert run.result.stop is Stop.FINISHED, run.output
    ledger = simulator.ledger
    assert DialResult.HUNG.value in ledger.result_counts()
    assert sorted(ledger.calls_per_number().values()) == [1, 1, 1]  # nobody rung twice
    rows = contact_rows(database, campaign)
    assert {(row["state"], row["attempts"]) for row in rows.values()} == {("delivered", 1)}
    check_ledger(ledger, database, campaign)
    assert '"action": "dial.ambiguous"' in run.output


def test_a_hung_fractel_request_is_never_redialled_blind(database: Database) -> None:
    """Fractel has no idempotency key: the attempt waits for the call timeout, then it is
    failed and retried as a new attempt, as the retry policy says."""
    campaign = campaign_of(database, Provider.FRACTEL, max_attempts=3)
    (phone,) = us_numbers(1)
    add_contacts(database, campaign, [phone])
    with simulating() as simulator:
        simulator.faults.hang_next(1, places_call=True)
        run = run_dialer(
            database, campaign, simulator, timeouts=_short_read(), call_timeout=2.0, **FAST
        )

    assert run.result.stop is Stop.FINISHED, run.output
    first, second = attempt_rows(database, campaign)
    assert first["outcome"] == "failed"
    assert "no final event within 2s" in first["provider_reason"]
    assert "ambiguous" in first["error"]
    assert second["outcome"] == "delivered"
    row = contact_rows(database, campaign)[phone]
    assert (row["state"], row["attempts"]) == ("delivered", 2)
    assert simulator.ledger.calls_per_number()[phone] == 2  # one per attempt, never more


def test_webhooks_twice_late_and_out_of_order_change_nothing(database: Database) -> None:
    phones = us_numbers(10)
    scripts = {phones[0]: (Outcome.BUSY, Outcome.DELIVERED), phones[1]: (Outcome.NO_ANSWER,)}
    faults = FaultPlan(duplicate_rate=0.5, delay_rate=0.3, delay=Span(0.05, 0.3), reorder_rate=0.5)
    behaviour = Behaviour(seed=5, scripts=scripts, mix=outcome_mix("delivered=1"), variants=True)
    campaign = campaign_of(database, max_attempts=2)
    add_contacts(database, campaign, phones)
    with running_simulator(SimulatorConfig(behaviour=behaviour, faults=faults)) as simulator:
        run = run_dialer(database, campaign, simulator)

    assert run.result.stop is Stop.FINISHED, run.output
    assert any(w.duplicate for w in simulator.ledger.webhooks)
    states = {p: (c["state"], c["attempts"]) for p, c in contact_rows(database, campaign).items()}
    assert states[phones[0]] == ("delivered", 2)
    assert states[phones[1]] == ("no_answer", 2)
    assert {states[p] for p in phones[2:]} == {("delivered", 1)}
    check_ledger(simulator.ledger, database, campaign)


@pytest.mark.parametrize("provider", [Provider.WEBEX, Provider.FRACTEL])
def test_a_call_whose_events_never_come_is_failed_after_the_call_timeout(
    database: Database, provider: Provider
) -> None:
    campaign = campaign_of(database, provider, max_attempts=2)
    (phone,) = us_numbers(1)
    add_contacts(database, campaign, [phone])
    nowhere = ReceiverOptions(enabled=False, public_url="http://127.0.0.1:9")  # nobody listens
    with simulating() as simulator:
        run = run_dialer(database, campaign, simulator, receiver=nowhere, call_timeout=1.0, **FAST)

    assert run.result.stop is Stop.FINISHED, run.output
    attempts = attempt_rows(database, campaign)
    assert [a["outcome"] for a in attempts] == ["failed", "failed"]
    assert all("no final event within 1s" in a["provider_reason"] for a in attempts)
    assert contact_rows(database, campaign)[phone]["state"] == "failed"
    assert simulator.ledger.calls_per_number()[phone] == 2


def test_an_enablex_call_whose_events_never_come_is_looked_up(database: Database) -> None:
    campaign = campaign_of(database, max_attempts=1)
    (phone,) = us_numbers(1)
    add_contacts(database, campaign, [phone])
    nowhere = ReceiverOptions(enabled=False, public_url="http://127.0.0.1:9")
    timing = Timing(hangup_timeout=0.0)  # the call ends on its own, unheard
    unheard = WebhookPolicy(retries=0, timeout=1.0)
    with simulating(timing=timing, webhooks=unheard) as simulator:
        run = run_dialer(database, campaign, simulator, receiver=nowhere, call_timeout=4.0, **FAST)

    assert run.result.stop is Stop.FINISHED, run.output
    (attempt,) = attempt_rows(database, campaign)
    # The lookup says only that the call has ended: without the events, no answer was seen.
    assert attempt["outcome"] == "no_answer"
    assert "no longer live" in attempt["provider_reason"]
    assert '"action": "call.looked_up"' in run.output


def _short_read():  # type: ignore[no-untyped-def]
    from campaigner.dialer import Timeouts

    return Timeouts(connect=1.0, read=0.5)
