"""`campaigner demo`: a whole campaign in about a minute, with no accounts and no real calls."""

from __future__ import annotations

import sys
from functools import partial
from importlib import resources
from pathlib import Path

import anyio
import click

from ..campaigns import CampaignSettings, Message, RetryPolicy
from ..config import Settings, parse_database_url
from ..db import Database, open_database
from ..dialer import ReceiverOptions, RunOptions, reporter_for, run_campaign
from ..errors import ValidationError
from ..importer import ImportOptions, import_contacts
from ..model import MessageKind, Outcome, Provider
from ..simulator import Behaviour, Simulator, SimulatorConfig, Span, Timing, running_simulator
from ..simulator.behaviour import outcome_mix
from ..simulator.config import DEMO_CALLER_IDS
from ..store.campaigns import create_campaign
from ..windows import CallingWindow
from .app import main

CAMPAIGN = "demo"
DATABASE_FILE = "campaigner.db"
REJECTS_FILE = "demo.rejects.csv"
# What `--fresh` may delete: only what a demo leaves behind.
_DEMO_FILES = (DATABASE_FILE, f"{DATABASE_FILE}-wal", f"{DATABASE_FILE}-shm", REJECTS_FILE)
# A callee's time: some seconds of ringing, a few of message; a mix with retries in it.
_TIMING = Timing(answer_latency=Span(0.1, 0.3), ring_delay=Span(1.0, 4.0), play_duration=Span(2, 4))
_MIX = "delivered=60,busy=15,no_answer=15,failed=10"
_RETRY_SECONDS = 5
_CALLS_PER_SECOND = 5
_MESSAGE = (
    "Hello {first_name}, this is a reminder of your appointment on {appointment} at {clinic}."
)
_WINDOW = CallingWindow.parse("00:00-24:00", "daily")


@main.command("demo")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("campaigner-demo"),
    show_default=True,
    help="Where the demo's SQLite database goes.",
)
@click.option(
    "--fresh",
    is_flag=True,
    help="Start over: delete the database an earlier demo left in --dir.",
)
def demo(directory: Path, fresh: bool) -> None:
    """Run a demo campaign of 50 contacts against a local simulator, start to finish.

    Nothing to set up and nobody is called: a simulator on 127.0.0.1 plays EnableX (some callees
    are busy, some do not answer, some calls fail, so retries happen), the webhook receiver runs
    beside the dialer, and a fresh SQLite database in --dir keeps everything for you to look at
    afterwards with `campaigner campaign show demo --db DIR/campaigner.db`. Takes about a minute.
    """
    _prepare(directory, fresh)
    contacts = demo_list()
    database = open_database(parse_database_url(str(directory / DATABASE_FILE)))
    try:
        with running_simulator(_simulator_config()) as simulator:
            click.echo("campaigner demo: a campaign against a local simulator; nobody is called.")
            click.echo(f"  database   {directory / DATABASE_FILE}")
            click.echo(f"  simulator  {simulator.url} (a fake EnableX; outcomes {_MIX})")
            _create_campaign(database)
            summary = import_contacts(
                database,
                CAMPAIGN,
                contacts,
                ImportOptions(tz_column="timezone", rejects_path=directory / REJECTS_FILE),
            )
            click.echo(
                f"  imported   {summary.counts.imported} contacts from {contacts} "
                f"({summary.counts.rejected} rejected)"
            )
            click.echo(
                f"  campaign   {CAMPAIGN}: EnableX, {_CALLS_PER_SECOND} calls/s, 3 attempts, "
                f"retries after {_RETRY_SECONDS}s"
            )
            click.echo(
                f"  window     {_WINDOW.describe()} in each contact's own time zone: demo only, "
                "a real campaign keeps to daytime hours"
            )
            result = anyio.run(
                partial(
                    run_campaign,
                    database,
                    CAMPAIGN,
                    _settings(simulator),
                    reporter=reporter_for(sys.stdout, "text", interval=5.0),
                    options=RunOptions(max_wait=60, call_timeout=60, drain_timeout=30),
                    receiver=ReceiverOptions(),
                ),
                backend_options={"use_uvloop": True},
            )
    finally:
        database.dispose()
    db = directory / DATABASE_FILE
    click.echo(f"Look around: campaigner campaign show {CAMPAIGN} --db {db}")
    sys.exit(result.exit_code.value)


def demo_list() -> Path:
    """sample_lists/demo.csv: inside the installed package, else in the source tree."""
    packaged = resources.files("campaigner") / "sample_lists" / "demo.csv"
    if packaged.is_file():
        return Path(str(packaged))
    source = Path(__file__).resolve().parents[2] / "sample_lists" / "demo.csv"
    if not source.is_file():
        raise ValidationError(f"the demo contact list is missing: {source}")
    return source


def _prepare(directory: Path, fresh: bool) -> None:
    if directory.exists() and not directory.is_dir():
        raise ValidationError(f"{directory} is not a directory")
    directory.mkdir(parents=True, exist_ok=True)
    present = sorted(path.name for path in directory.iterdir())
    if not present:
        return
    if not fresh:
        raise ValidationError(
            f"{directory} is not empty: an earlier demo? Run `campaigner demo --fresh` to start "
            "over, or give another --dir"
        )
    others = [name for name in present if name not in _DEMO_FILES]
    if others:
        raise ValidationError(
            f"{directory} holds files a demo did not make ({', '.join(others)}): "
            "--fresh deletes only a demo's own; give another --dir"
        )
    for name in present:
        (directory / name).unlink()


def _simulator_config() -> SimulatorConfig:
    return SimulatorConfig(
        timing=_TIMING,
        behaviour=Behaviour(seed=2026, mix=outcome_mix(_MIX), variants=True),
    )


def _create_campaign(database: Database) -> None:
    delays = dict.fromkeys((Outcome.BUSY, Outcome.NO_ANSWER, Outcome.FAILED), _RETRY_SECONDS)
    settings = CampaignSettings(
        name=CAMPAIGN,
        provider=Provider.ENABLEX,
        caller_id=DEMO_CALLER_IDS[0],
        message=Message(MessageKind.TTS, _MESSAGE, voice="female", language="en-US"),
        calls_per_second=_CALLS_PER_SECOND,
        max_in_flight=10,
        retry=RetryPolicy(max_attempts=3, delays=delays),
        window=_WINDOW,
        default_region="US",
        default_timezone="America/New_York",
    ).validate()
    with database.write() as connection:
        create_campaign(connection, settings)


def _settings(simulator: Simulator) -> Settings:
    env = simulator.environment()
    return Settings(
        {
            ("enablex", "app_id"): env["CAMPAIGNER_ENABLEX_APP_ID"],
            ("enablex", "app_key"): env["CAMPAIGNER_ENABLEX_APP_KEY"],
            ("enablex", "base_url"): env["CAMPAIGNER_ENABLEX_BASE_URL"],
        },
        source="the demo's simulator",
    )
