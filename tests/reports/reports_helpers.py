"""What the report tests share: a campaign imported from the sample lists and run to its end
against the simulator, and readers for each report format."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import anyio
from click.testing import CliRunner, Result
from db_helpers import db_option
from sqlalchemy.engine import URL

from campaigner.campaigns import Campaign, CampaignSettings, Message, RetryPolicy
from campaigner.cli import main
from campaigner.config import Settings
from campaigner.db import Database
from campaigner.dialer.clock import SystemClock
from campaigner.dialer.engine import RunOptions
from campaigner.dialer.reporting import RunResult, reporter_for
from campaigner.dialer.session import ReceiverOptions, run_campaign
from campaigner.importer import ImportOptions, import_contacts
from campaigner.model import CampaignStatus, MessageKind, Outcome, Provider
from campaigner.receiver import WebhookAuth, create_app, serving
from campaigner.simulator import Simulator
from campaigner.store.campaigns import create_campaign, get_campaign, set_status
from campaigner.store.suppressions import add_suppressions
from campaigner.windows import CallingWindow

SAMPLES = Path(__file__).resolve().parents[2] / "sample_lists"
NAME = "spring"
CALLER_ID = "+13215550100"  # provisioned on every simulator account
WEBHOOK_TOKEN = "report-test-webhook-token-0123"
SUPPRESSED = "+12125550101"  # Maria Gonzalez, row 1 of bad_rows.csv
SUPPRESSION_REASON = "asked not to be called"
# Cells a spreadsheet would run as formulas, and markup a browser would run.
HOSTILE = "hostile.csv"
HOSTILE_ROWS = [
    ('=HYPERLINK("http://example.invalid","click")', "+12125550150", "-2+3"),
    ("@SUM(A1:A9)", "+12125550151", "+1 at noon"),
    ("<script>alert(1)</script>", "+12125550152", "=1+1"),
]
SCRIPTS = {
    "+12125550150": (Outcome.BUSY, Outcome.DELIVERED),
    "+12125550151": (Outcome.NO_ANSWER,),
    "+12125550152": (Outcome.FAILED, Outcome.DELIVERED),
}


def make_campaign(database: Database) -> Campaign:
    settings = CampaignSettings(
        name=NAME,
        provider=Provider.ENABLEX,
        caller_id=CALLER_ID,
        message=Message(MessageKind.TTS, "Hello {first_name}, see you {appointment}."),
        calls_per_second=50,
        max_in_flight=10,
        retry=RetryPolicy(
            max_attempts=3, delays={Outcome.BUSY: 0, Outcome.NO_ANSWER: 0, Outcome.FAILED: 0}
        ),
        window=CallingWindow.parse("00:00-24:00", "daily"),
        default_region="US",
        default_timezone="America/New_York",
    ).validate()
    with database.write() as connection:
        campaign = create_campaign(connection, settings)
        set_status(connection, campaign, CampaignStatus.RUNNING)
        add_suppressions(connection, {SUPPRESSED: SUPPRESSION_REASON}, None, "manual")
    return campaign


def import_samples(database: Database, tmp_path: Path) -> None:
    """bad_rows.csv (9 contacts, 3 duplicates, 15 rejects; row 1 now suppressed), then a list
    whose cells look like formulas and markup."""
    options = ImportOptions(tz_column="timezone", region="US", workers=1)
    import_contacts(
        database,
        NAME,
        SAMPLES / "bad_rows.csv",
        ImportOptions(**{**vars(options), "rejects_path": tmp_path / "bad.rejects.csv"}),
    )
    hostile = tmp_path / HOSTILE
    with hostile.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["first_name", "phone", "appointment"])
        writer.writerows(HOSTILE_ROWS)
    import_contacts(database, NAME, hostile, ImportOptions(region="US", workers=1))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def simulator_settings(simulator: Simulator) -> Settings:
    env = simulator.environment()
    return Settings(
        {
            ("enablex", "app_id"): env["CAMPAIGNER_ENABLEX_APP_ID"],
            ("enablex", "app_key"): env["CAMPAIGNER_ENABLEX_APP_KEY"],
            ("enablex", "base_url"): env["CAMPAIGNER_ENABLEX_BASE_URL"],
            ("receiver", "token"): WEBHOOK_TOKEN,
        }
    )


def run_to_the_end(database: Database, simulator: Simulator) -> RunResult:
    """`campaigner run spring` in this process, until every contact is final."""
    options = RunOptions(clock=SystemClock(), seed=1, max_wait=30.0, drain_timeout=30.0)
    return anyio.run(
        partial(
            run_campaign,
            database,
            NAME,
            simulator_settings(simulator),
            reporter=reporter_for(io.StringIO(), "json"),
            options=options,
            receiver=ReceiverOptions(port=free_port()),
        )
    )


def campaign_of(database: Database) -> Campaign:
    with database.read() as connection:
        return get_campaign(connection, NAME)


def cli(url: URL, *args: str) -> Result:
    """`campaigner ARGS --db URL`, as a user would type it."""
    return CliRunner().invoke(main, [*args, "--db", db_option(url)], catch_exceptions=False)


@dataclass(frozen=True)
class Csv:
    header: list[str]
    rows: list[dict[str, str]]


def read_csv(text: str) -> Csv:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    return Csv(header, [dict(zip(header, row, strict=True)) for row in reader])


def read_jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


class _Page(HTMLParser):
    """The summary tiles and the tables of an HTML report or status page."""

    def __init__(self) -> None:
        super().__init__()
        self.tiles: dict[str, str] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self._metric: str | None = None
        self._in_value = False
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._row: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "div" and found.get("data-metric"):
            self._metric = found["data-metric"]
        elif tag == "span" and self._metric and found.get("class") == "value":
            self._in_value = True
            self.tiles[self._metric] = ""
        elif tag == "table":
            self._table = found.get("id") or f"table-{len(self.tables)}"
            self.tables[self._table] = []
        elif tag == "tr":
            self._row = []
        elif tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._in_value:
            self._in_value = False
            self._metric = None
        elif tag == "td" and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._table and self._row:
            self.tables[self._table].append(self._row)
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._in_value and self._metric:
            self.tiles[self._metric] += data
        if self._cell is not None:
            self._cell.append(data)


def read_page(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


USER = "watcher"
PASSWORD = "a-long-status-password"


@contextmanager
def receiver_in_thread(database: Database, auth: WebhookAuth) -> Iterator[str]:
    """A real receiver on 127.0.0.1, served from a thread with its own event loop (so that a
    synchronous browser driver can use it); yields its URL."""
    ready = threading.Event()
    found: dict[str, Any] = {}

    async def serve() -> None:
        stop = asyncio.Event()
        found["loop"], found["stop"] = asyncio.get_running_loop(), stop
        async with serving(create_app(database, Settings(), auth=auth)) as running:
            found["url"] = running.url
            ready.set()
            await stop.wait()

    def run() -> None:
        try:
            asyncio.run(serve())
        except BaseException as exc:
            found["error"] = exc
            ready.set()

    thread = threading.Thread(target=run, name="status-receiver")
    thread.start()
    ready.wait(timeout=30)
    try:
        if "url" not in found:
            raise RuntimeError(f"the receiver did not start: {found.get('error')!r}")
        yield str(found["url"])
    finally:
        if "stop" in found:
            found["loop"].call_soon_threadsafe(found["stop"].set)
        thread.join(timeout=30)
