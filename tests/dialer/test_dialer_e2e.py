"""The dialer end to end over real HTTP: each provider dialect, on SQLite and PostgreSQL.

The simulator plays each number's script (busy then delivered, no answer three times...) and
keeps a ledger of every call placed; the acceptance checks run against that ledger.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dialer_helpers import (
    add_contacts,
    attempt_rows,
    check_ledger,
    contact_rows,
    make_campaign,
    run_dialer,
    us_numbers,
)

from campaigner.db import Database
from campaigner.dialer.stopping import ExitCode, Stop
from campaigner.model import CampaignStatus, Outcome, Provider
from campaigner.simulator import (
    Behaviour,
    Simulator,
    SimulatorConfig,
    outcome_mix,
    running_simulator,
)
from campaigner.store.campaigns import get_campaign_by_id

PHONES = us_numbers(12)
SCRIPTS = {
    PHONES[0]: (Outcome.BUSY, Outcome.DELIVERED),
    PHONES[1]: (Outcome.NO_ANSWER,),  # three times: the maximum
    PHONES[2]: (Outcome.FAILED, Outcome.BUSY, Outcome.DELIVERED),
    PHONES[3]: (Outcome.INVALID_NUMBER,),
}
EXPECTED = {
    PHONES[0]: ("delivered", 2),
    PHONES[1]: ("no_answer", 3),
    PHONES[2]: ("delivered", 3),
    **dict.fromkeys(PHONES[4:], ("delivered", 1)),
}
# An invalid number in each provider's words: only Fractel has one (INVALID); the simulator's
# EnableX fails the call, its Webex Connect rejects it (our busy). Both are retried.
INVALID = {
    Provider.FRACTEL: ("invalid_number", 1),
    Provider.ENABLEX: ("failed", 3),
    Provider.WEBEX: ("busy", 3),
}


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    behaviour = Behaviour(seed=7, scripts=SCRIPTS, mix=outcome_mix("delivered=1"))
    with running_simulator(SimulatorConfig(behaviour=behaviour)) as running:
        yield running


@pytest.mark.parametrize("provider", list(Provider))
def test_a_campaign_runs_to_the_end_with_retries(
    database: Database, simulator: Simulator, provider: Provider
) -> None:
    campaign = make_campaign(
        database,
        provider=provider,
        calls_per_second=20,
        max_in_flight=4,
    )
    add_contacts(database, campaign, PHONES)

    run = run_dialer(database, campaign, simulator)

    assert (run.result.stop, run.result.exit_code) == (Stop.FINISHED, ExitCode.DONE), run.output
    states = {p: (c["state"], c["attempts"]) for p, c in contact_rows(database, campaign).items()}
    assert states == {**EXPECTED, PHONES[3]: INVALID[provider]}
    assert run.result.dialled == sum(attempts for _, attempts in states.values())
    check_ledger(simulator.ledger, database, campaign, cap=20)
    with database.read() as connection:
        assert get_campaign_by_id(connection, campaign.id).status is CampaignStatus.COMPLETED
    attempts = attempt_rows(database, campaign)
    assert all(a["outcome"] is not None and a["provider_call_id"] for a in attempts)


def test_claims_limited_by_the_call_slots_wait_for_a_twentieth_of_them(
    database: Database,
) -> None:
    # Uncapped in effect: the 200 slots limit the claims, and calls end a few at a time.
    campaign = make_campaign(database, calls_per_second=10_000, max_in_flight=200)
    phones = us_numbers(1000)
    add_contacts(database, campaign, phones)
    mix = Behaviour(seed=1, mix=outcome_mix("delivered=1"))
    with running_simulator(SimulatorConfig(behaviour=mix)) as simulator:
        run = run_dialer(database, campaign, simulator)

    assert run.result.stop is Stop.FINISHED, run.output
    claims: dict[object, int] = {}  # one claim, one requested_at
    for attempt in attempt_rows(database, campaign):
        claims[attempt["requested_at"]] = claims.get(attempt["requested_at"], 0) + 1
    sizes = list(claims.values())
    assert sum(sizes) == len(phones)
    assert min(sizes[:-1]) >= 10, sizes  # the last one takes what is left
