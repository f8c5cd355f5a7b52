"""What the dialer tests share: a campaign in the database, contacts placed directly, reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import insert, select

from campaigner.campaigns import Campaign, CampaignSettings, Message, RetryPolicy
from campaigner.db import Database
from campaigner.db.schema import attempts, contacts
from campaigner.model import CampaignStatus, ContactState, MessageKind, Outcome, Provider
from campaigner.store.campaigns import create_campaign, set_status
from campaigner.windows import CallingWindow

CREATED = datetime(2026, 3, 1, tzinfo=UTC)
CALLER_ID = "+13215550100"  # provisioned on every simulator account


def make_campaign(
    database: Database,
    *,
    name: str = "test",
    provider: Provider = Provider.ENABLEX,
    window: str = "00:00-23:59",  # windows cannot say "all day" (24:00 is 00:00)
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
