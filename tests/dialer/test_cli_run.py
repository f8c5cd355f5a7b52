"""`campaigner run` and `campaigner demo` as a user types them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from db_helpers import db_option
from dialer_helpers import WEBHOOK_TOKEN, add_contacts, contact_rows, make_campaign, us_numbers
from sqlalchemy.engine import URL

from campaigner.cli import demo as demo_module
from campaigner.cli import main
from campaigner.db import Database
from campaigner.model import CampaignStatus
from campaigner.simulator import (
    Behaviour,
    Simulator,
    SimulatorConfig,
    Timing,
    outcome_mix,
    running_simulator,
)
from campaigner.store.campaigns import cancel_campaign, get_campaign_by_id, set_status


@pytest.fixture
def simulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    """A simulator, and campaigner's environment pointing at it."""
    config = SimulatorConfig(behaviour=Behaviour(seed=1, mix=outcome_mix("delivered=1")))
    with running_simulator(config) as running:
        for name, value in running.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("CAMPAIGNER_WEBHOOK_TOKEN", WEBHOOK_TOKEN)
        yield running


def run(url: URL, *args: str) -> Result:
    return CliRunner().invoke(main, ["run", *args, "--db", db_option(url)])


def test_run_dials_a_campaign_to_the_end(
    database: Database, database_url: URL, simulator: Simulator
) -> None:
    campaign = make_campaign(database, status=CampaignStatus.DRAFT)
    add_contacts(database, campaign, us_numbers(5))

    result = run(database_url, campaign.name, "--log-format", "json")

    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert lines[0]["action"] == "campaign.running"  # a draft is set running
    final = lines[-1]
    assert (final["action"], final["exit_code"], final["dialled"]) == ("finished", 0, 5)
    assert final["contacts"] == {"delivered": 5}
    assert "+1212" not in result.output  # no full number is ever printed
    assert WEBHOOK_TOKEN not in result.output
    states = {row["state"] for row in contact_rows(database, campaign).values()}
    assert states == {"delivered"}


def test_run_prints_lines_without_a_terminal(
    database: Database, database_url: URL, simulator: Simulator
) -> None:
    campaign = make_campaign(database)
    add_contacts(database, campaign, us_numbers(2))

    result = run(database_url, campaign.name)

    assert result.exit_code == 0, result.output
    assert "campaign test: completed: every contact is final" in result.output
    assert "contacts: delivered 2" in result.output


def test_a_cancelled_campaign_has_nothing_to_dial(
    database: Database, database_url: URL, simulator: Simulator
) -> None:
    campaign = make_campaign(database)
    add_contacts(database, campaign, us_numbers(2))
    with database.write() as connection:
        cancel_campaign(connection, get_campaign_by_id(connection, campaign.id), None)

    result = run(database_url, campaign.name)

    assert result.exit_code == 3
    assert "cancelled: nothing to dial" in result.output
    assert simulator.ledger.dials == []


def test_a_paused_campaign_stays_paused_unless_run_with_resume(
    database: Database, database_url: URL, simulator: Simulator
) -> None:
    """A cron job's run must not undo an operator's pause: only --resume resumes."""
    campaign = make_campaign(database)
    add_contacts(database, campaign, us_numbers(2))
    with database.write() as connection:
        current = get_campaign_by_id(connection, campaign.id)
        set_status(connection, current, CampaignStatus.PAUSED, "wrong message")

    left = run(database_url, campaign.name)

    assert left.exit_code == 3, left.output
    assert "paused (wrong message): nothing dialled" in left.output
    assert f"campaigner run {campaign.name} --resume" in left.output
    assert simulator.ledger.dials == []
    with database.read() as connection:
        assert get_campaign_by_id(connection, campaign.id).status is CampaignStatus.PAUSED

    resumed = run(database_url, campaign.name, "--resume")

    assert resumed.exit_code == 0, resumed.output
    assert "was paused: now running" in resumed.output
    assert len(simulator.ledger.dials) == 2


def test_a_completed_campaign_with_nothing_left_is_left_alone(
    database: Database, database_url: URL, simulator: Simulator
) -> None:
    campaign = make_campaign(database)
    add_contacts(database, campaign, us_numbers(1))
    assert run(database_url, campaign.name).exit_code == 0

    again = run(database_url, campaign.name)

    assert again.exit_code == 0
    assert "completed: every contact is final" in again.output
    assert len(simulator.ledger.dials) == 1


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["--listen", "localhost"], 2, "--listen 'localhost' must look like 127.0.0.1:8080"),
        (["--until", "tomorrow"], 2, "--until 'tomorrow' is not a time"),
        (["--max-duration", "soon"], 2, "duration 'soon' is not like 90s"),
        (["--public-url", "hooks.example.com"], 2, "is not an http(s) URL"),
        (["--no-receiver"], 78, "--no-receiver needs --public-url"),
    ],
)
def test_run_refuses_bad_options(
    database: Database,
    database_url: URL,
    simulator: Simulator,
    args: list[str],
    code: int,
    words: str,
) -> None:
    campaign = make_campaign(database)
    add_contacts(database, campaign, us_numbers(1))

    result = run(database_url, campaign.name, *args)

    assert result.exit_code == code, result.output
    assert words in result.output
    assert simulator.ledger.dials == []


def test_run_needs_the_providers_credentials(
    database: Database, database_url: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign = make_campaign(database, status=CampaignStatus.DRAFT)

    result = run(database_url, campaign.name)

    assert result.exit_code == 78
    assert "missing setting enablex.app_key" in result.output
    with database.read() as connection:  # nothing changed
        assert get_campaign_by_id(connection, campaign.id).status is CampaignStatus.DRAFT


@pytest.fixture
def quick_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo with calls that ring and play at once, retried at once, dialled ten times as
    fast: seconds, not a minute."""
    monkeypatch.setattr(demo_module, "_TIMING", Timing())
    monkeypatch.setattr(demo_module, "_RETRY_SECONDS", 0)
    monkeypatch.setattr(demo_module, "_CALLS_PER_SECOND", 50)


@pytest.mark.usefixtures("quick_demo")
def test_the_demo_runs_a_campaign_to_the_end(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["demo", "--dir", str(tmp_path / "demo")])

    assert result.exit_code == 0, result.output
    assert "imported   50 contacts" in result.output
    assert "campaign demo: completed: every contact is final" in result.output
    assert "demo only" in result.output
    assert (tmp_path / "demo" / "campaigner.db").is_file()


@pytest.mark.usefixtures("quick_demo")
def test_the_demo_never_reuses_a_database_unless_told(tmp_path: Path) -> None:
    directory = tmp_path / "demo"
    assert CliRunner().invoke(main, ["demo", "--dir", str(directory)]).exit_code == 0

    again = CliRunner().invoke(main, ["demo", "--dir", str(directory)])
    fresh = CliRunner().invoke(main, ["demo", "--dir", str(directory), "--fresh"])
    (directory / "notes.txt").write_text("mine")
    foreign = CliRunner().invoke(main, ["demo", "--dir", str(directory), "--fresh"])

    assert again.exit_code == 2
    assert "is not empty" in again.output
    assert fresh.exit_code == 0, fresh.output
    assert foreign.exit_code == 2
    assert "holds files a demo did not make (notes.txt)" in foreign.output
    assert (directory / "notes.txt").read_text() == "mine"
