"""`campaigner campaign callback`, and why a Fractel run needs a fixed webhook token: Fractel posts
every call's events to the one URL set on the caller ID's FoneNumber."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result
from db_helpers import db_option
from dialer_helpers import (
    CALLER_ID,
    WEBHOOK_TOKEN,
    add_contacts,
    make_campaign,
    run_dialer,
    simulator_settings,
    us_numbers,
)
from sqlalchemy.engine import URL

from campaigner.cli import main
from campaigner.db import Database
from campaigner.errors import ConfigError
from campaigner.model import CampaignStatus, Provider
from campaigner.simulator import Simulator, running_simulator
from campaigner.store.campaigns import get_campaign_by_id

PUBLIC = "https://hooks.example.com"


@pytest.fixture
def simulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    with running_simulator() as running:
        for name, value in running.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("CAMPAIGNER_WEBHOOK_TOKEN", WEBHOOK_TOKEN)
        yield running


def callback(url: URL, *args: str) -> Result:
    return CliRunner().invoke(main, ["campaign", "callback", *args, "--db", db_option(url)])


def test_a_fractel_caller_id_is_pointed_at_the_receiver(
    database: Database, database_url: URL, simulator: Simulator
) -> None:
    campaign = make_campaign(database, provider=Provider.FRACTEL)

    result = callback(database_url, campaign.name, "--public-url", PUBLIC)

    assert result.exit_code == 0, result.output
    assert result.output == (
        f"fractel: calls from {CALLER_ID} now post their events to "
        f"{PUBLIC}/hooks/fractel/{WEBHOOK_TOKEN[:4]}…\n"
    )
    set_on_number = simulator.exchange.fractel_callbacks[CALLER_ID]
    assert (set_on_number.url, set_on_number.method) == (
        f"{PUBLIC}/hooks/fractel/{WEBHOOK_TOKEN}",
        "JSON",
    )


def test_a_provider_that_takes_the_url_with_each_call_needs_nothing(
    database: Database, database_url: URL, simulator: Simulator
) -> None:
    campaign = make_campaign(database, provider=Provider.WEBEX)

    result = callback(database_url, campaign.name, "--public-url", PUBLIC)

    assert result.exit_code == 0, result.output
    assert result.output == "webex takes the callback URL with each call: nothing to set\n"
    assert simulator.exchange.fractel_callbacks == {}


def test_a_callback_without_a_token_is_refused(
    database: Database, database_url: URL, simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CAMPAIGNER_WEBHOOK_TOKEN")
    campaign = make_campaign(database, provider=Provider.FRACTEL)

    result = callback(database_url, campaign.name, "--public-url", PUBLIC)

    assert result.exit_code == 78
    assert "fractel cannot send HTTP Basic" in result.stderr
    assert simulator.exchange.fractel_callbacks == {}


def test_the_providers_refusal_is_reported(
    database: Database, database_url: URL, simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAMPAIGNER_FRACTEL_TOKEN", "not-the-account-token")
    campaign = make_campaign(database, provider=Provider.FRACTEL)

    result = callback(database_url, campaign.name, "--public-url", PUBLIC)

    assert result.exit_code == 69
    assert f"fractel refused the callback URL for {CALLER_ID}: " in result.stderr
    assert "not-the-account-token" not in result.output + result.stderr
    assert simulator.exchange.fractel_callbacks == {}


def test_a_fractel_run_without_a_fixed_token_dials_nobody(
    database: Database, simulator: Simulator
) -> None:
    """With a one-off token no call's events could arrive: each call would time out, be marked
    failed and be dialled again. So the run refuses before it changes anything."""
    campaign = make_campaign(database, provider=Provider.FRACTEL, status=CampaignStatus.DRAFT)
    add_contacts(database, campaign, us_numbers(2))

    with pytest.raises(ConfigError, match="set CAMPAIGNER_WEBHOOK_TOKEN"):
        run_dialer(database, campaign, simulator, settings=simulator_settings(simulator, None))

    assert simulator.ledger.dials == []
    with database.read() as connection:
        assert get_campaign_by_id(connection, campaign.id).status is CampaignStatus.DRAFT
