"""What the dialer tests share: a campaign in the database, contacts placed directly, reads."""

from __future__ import annotations

import io
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import anyio
from sqlalchemy import insert, select

from campaigner.campaigns import Campaign, CampaignSettings, Message, RetryPolicy
from campaigner.config import Settings
from campaigner.db import Database
from campaigner.db.schema import attempts, contacts
from campaigner.dialer.callbacks import point_callbacks
from campaigner.dialer.clock import Clock, SystemClock
from campaigner.dialer.engine import RunOptions
from campaigner.dialer.reporting import RunResult, reporter_for
from campaigner.dialer.session import ReceiverOptions, run_campaign
from campaigner.model import CampaignStatus, ContactState, MessageKind, Outcome, Provider
from campaigner.providers import adapter_for
from campaigner.receiver import WebhookAuth
from campaigner.simulator import Ledger, Simulator
from campaigner.store.campaigns import create_campaign, set_status
from campaigner.windows import CallingWindow

CREATED = datetime(2026, 3, 1, tzinfo=UTC)
CALLER_ID = "+13215550100"  # provisioned on every simulator account


def make_campaign(
    database: Database,
    *,
    name: str = "test",
    provider: Provider = Provider.ENABLEX,
    window: str = "00:00-24:00",
    days: str = "daily",
    calls_per_second: float = 50.0,
    max_in_flight: int = 50,
    max_attempts: int = 3,
    retry_delay: int = 0,
    status: CampaignStatus = CampaignStatus.RUNNING,
    message: Message | None = None,
) -> Campaign:
    settings = CampaignSettings(
        name=name,
        provider=provider,
        caller_id=CALLER_ID,
        message=message or Message(MessageKind.TTS, "Hello {first_name}, see you {appointment}."),
        calls_per_second=calls_per_second,
        max_in_flight=max_in_flight,
        retry=RetryPolicy(
            max_attempts=max_attempts,
            delays={
                Outcome.BUSY: retry_delay,
                Outcome.NO_ANSWER: retry_delay,
                Outcome.FAILED: retry_delay,
            },
        ),
        window=CallingWindow.parse(window, days),
        default_region="US",
        default_timezone="America/New_York",
    ).validate()
    with database.write() as connection:
        campaign = create_campaign(connection, settings)
        if status is not CampaignStatus.DRAFT:
            campaign = set_status(connection, campaign, status)
    return campaign


def add_contacts(
    database: Database,
    campaign: Campaign,
    phones: Sequence[str],
    *,
    timezone: str = "America/New_York",
    zones: Mapping[str, str] | None = None,
    next_attempt_at: datetime | None = CREATED,
    state: ContactState = ContactState.PENDING,
) -> None:
    """Pending contacts, due at `next_attempt_at`, each in `zones[phone]` or `timezone`."""
    zones = zones or {}
    with database.write() as connection:
        connection.execute(
            insert(contacts),
            [
                {
                    "campaign_id": campaign.id,
                    "phone": phone,
                    "phone_raw": phone,
                    "fields": {"first_name": f"Caller {i}", "appointment": "Monday at 9"},
                    "timezone": zones.get(phone, timezone),
                    "timezone_source": "number",
                    "state": state.value,
                    "attempts": 0,
                    "next_attempt_at": next_attempt_at,
                    "created_at": CREATED,
                    "updated_at": CREATED,
                }
                for i, phone in enumerate(phones)
            ],
        )


def us_numbers(count: int, area: str = "212") -> list[str]:
    """Fictional numbers (NXX 555-01xx), several area codes when more than 100 are needed."""
    areas = [area, "213", "305", "312", "404", "415", "503", "617", "702", "808"]
    return [f"+1{areas[i // 100]}5550{100 + i % 100}" for i in range(count)]


def contact_rows(database: Database, campaign: Campaign) -> dict[str, dict[str, object]]:
    """Each contact by phone: its columns."""
    with database.read() as connection:
        rows = connection.execute(
            select(contacts).where(contacts.c.campaign_id == campaign.id)
        ).mappings()
        return {row["phone"]: dict(row) for row in rows}


def attempt_rows(database: Database, campaign: Campaign) -> list[dict[str, object]]:
    with database.read() as connection:
        rows = connection.execute(
            select(attempts, contacts.c.phone)
            .join(contacts, contacts.c.id == attempts.c.contact_id)
            .where(attempts.c.campaign_id == campaign.id)
            .order_by(attempts.c.id)
        ).mappings()
        return [dict(row) for row in rows]


# --- Running the dialer against the simulator -------------------------------------------------

WEBHOOK_TOKEN = "test-webhook-token-0123456789"


def simulator_settings(simulator: Simulator, token: str | None = WEBHOOK_TOKEN) -> Settings:
    """campaigner's settings pointing at `simulator`, with a webhook token."""
    env = simulator.environment()
    values = {
        ("enablex", "app_id"): env["CAMPAIGNER_ENABLEX_APP_ID"],
        ("enablex", "app_key"): env["CAMPAIGNER_ENABLEX_APP_KEY"],
        ("enablex", "base_url"): env["CAMPAIGNER_ENABLEX_BASE_URL"],
        ("fractel", "token"): env["CAMPAIGNER_FRACTEL_TOKEN"],
        ("fractel", "base_url"): env["CAMPAIGNER_FRACTEL_BASE_URL"],
        ("webex", "service_key"): env["CAMPAIGNER_WEBEX_SERVICE_KEY"],
        ("webex", "base_url"): env["CAMPAIGNER_WEBEX_BASE_URL"],
    }
    if token:
        values[("receiver", "token")] = token
    return Settings(values)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def point_fractel_callbacks(simulator: Simulator, settings: Settings, receiver_url: str) -> None:
    """What a Fractel operator does once per FoneNumber (`campaigner campaign callback`), with
    the account's own API token whatever `settings` say, for the receiver of `settings`."""
    adapter = adapter_for(Provider.FRACTEL)
    url = WebhookAuth.from_settings(settings).callback_url(receiver_url, Provider.FRACTEL)
    credentials = adapter.credentials(simulator_settings(simulator))
    assert anyio.run(point_callbacks, adapter, CALLER_ID, url, credentials)


@dataclass
class Run:
    result: RunResult
    output: str


def run_dialer(
    database: Database,
    campaign: Campaign,
    simulator: Simulator,
    *,
    settings: Settings | None = None,
    clock: Clock | None = None,
    receiver: ReceiverOptions | None = None,
    log_format: str = "json",
    **options: Any,
) -> Run:
    """`campaigner run CAMPAIGN` in this process, against `simulator`; Fractel's callback set."""
    settings = settings or simulator_settings(simulator)
    receiver = receiver or ReceiverOptions(port=free_port())
    if campaign.settings.provider is Provider.FRACTEL and receiver.enabled:
        point_fractel_callbacks(simulator, settings, f"http://127.0.0.1:{receiver.port}")
    options.setdefault("max_wait", 30.0)
    options.setdefault("drain_timeout", 30.0)
    stream = io.StringIO()
    reporter = reporter_for(stream, log_format)
    run_options = RunOptions(clock=clock or SystemClock(), seed=1, **options)
    result = anyio.run(
        partial(
            run_campaign,
            database,
            campaign.name,
            settings,
            reporter=reporter,
            options=run_options,
            receiver=receiver,
        )
    )
    return Run(result, stream.getvalue())


def check_ledger(
    ledger: Ledger, database: Database, campaign: Campaign, *, cap: int | None = None
) -> None:
    """The acceptance checks: no key placed twice, the attempts counted are the calls placed and
    never above the maximum, no call outside a callee's window, never over the cap."""
    keys = ledger.calls_per_correlation()
    assert all(count == 1 for count in keys.values()), keys
    rows = contact_rows(database, campaign)
    placed = ledger.calls_per_number()
    for phone, row in rows.items():
        assert row["attempts"] == placed.get(phone, 0), (phone, row, placed.get(phone))
        assert row["attempts"] <= campaign.settings.retry.max_attempts
    zones = {phone: ZoneInfo(str(row["timezone"])) for phone, row in rows.items()}
    assert ledger.calls_outside_window(campaign.settings.window, zones.__getitem__) == []
    if cap is not None:
        assert ledger.max_calls_in_any_second() <= cap
