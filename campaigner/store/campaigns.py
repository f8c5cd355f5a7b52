"""Campaign rows: creating, finding, listing and changing the status of campaigns."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..campaigns import Campaign, CampaignSettings, Message, RetryPolicy
from ..db.schema import campaigns
from ..errors import AlreadyExists, InvalidTransition, NotFound
from ..model import CampaignStatus, MessageKind, Outcome, Provider
from ..windows import CallingWindow, parse_days

# Which status may follow which. Completed campaigns can be resumed: new contacts may be imported.
ALLOWED_TRANSITIONS: Mapping[CampaignStatus, frozenset[CampaignStatus]] = {
    CampaignStatus.DRAFT: frozenset(
        {CampaignStatus.RUNNING, CampaignStatus.PAUSED, CampaignStatus.CANCELLED}
    ),
    CampaignStatus.RUNNING: frozenset(
        {CampaignStatus.PAUSED, CampaignStatus.COMPLETED, CampaignStatus.CANCELLED}
    ),
    CampaignStatus.PAUSED: frozenset({CampaignStatus.RUNNING, CampaignStatus.CANCELLED}),
    CampaignStatus.COMPLETED: frozenset({CampaignStatus.RUNNING, CampaignStatus.CANCELLED}),
    CampaignStatus.CANCELLED: frozenset(),
}


def now_utc() -> datetime:
    return datetime.now(UTC)


def create_campaign(connection: Connection, settings: CampaignSettings) -> Campaign:
    """Store a new campaign in DRAFT. `settings` must already be validated."""
    now = now_utc()
    values = _settings_to_row(settings) | {
        "status": CampaignStatus.DRAFT.value,
        "created_at": now,
        "updated_at": now,
    }
    try:
        with connection.begin_nested():
            connection.execute(insert(campaigns).values(values))
    except IntegrityError:
        raise AlreadyExists(f"a campaign named {settings.name!r} already exists") from None
    return get_campaign(connection, settings.name)


def get_campaign(connection: Connection, name: str) -> Campaign:
    row = connection.execute(select(campaigns).where(campaigns.c.name == name)).mappings().first()
    if row is None:
        raise NotFound(f"no campaign named {name!r} (see `campaigner campaign list`)")
    return campaign_from_row(row)


def get_campaign_by_id(connection: Connection, campaign_id: int) -> Campaign:
    row = (
        connection.execute(select(campaigns).where(campaigns.c.id == campaign_id))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no campaign with id {campaign_id}")
    return campaign_from_row(row)


def list_campaigns(connection: Connection) -> list[Campaign]:
    rows = connection.execute(select(campaigns).order_by(campaigns.c.created_at, campaigns.c.id))
    return [campaign_from_row(row) for row in rows.mappings()]


def set_status(
    connection: Connection,
    campaign: Campaign,
    status: CampaignStatus,
    reason: str | None = None,
) -> Campaign:
    """Move a campaign to `status`, if that is allowed from the status it has in the database."""
    current = CampaignStatus(
        connection.execute(
            select(campaigns.c.status).where(campaigns.c.id == campaign.id)
        ).scalar_one()
    )
    if status is not current and status not in ALLOWED_TRANSITIONS[current]:
        raise InvalidTransition(f"campaign {campaign.name!r} is {current}: it cannot be {status}")
    now = now_utc()
    values: dict[str, Any] = {"status": status.value, "status_reason": reason, "updated_at": now}
    if status is CampaignStatus.RUNNING and campaign.started_at is None:
        values["started_at"] = now
    if status in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED):
        values["finished_at"] = now
    connection.execute(update(campaigns).where(campaigns.c.id == campaign.id).values(values))
    return get_campaign_by_id(connection, campaign.id)


def campaign_from_row(row: RowMapping) -> Campaign:
    settings = CampaignSettings(
        name=row["name"],
        provider=Provider(row["provider"]),
        caller_id=row["caller_id"],
        message=Message(
            kind=MessageKind(row["message_kind"]),
            body=row["message"],
            voice=row["voice"],
            language=row["language"],
        ),
        calls_per_second=row["calls_per_second"],
        max_in_flight=row["max_in_flight"],
        retry=RetryPolicy(
            max_attempts=row["max_attempts"],
            delays={
                Outcome.BUSY: row["retry_delay_busy"],
                Outcome.NO_ANSWER: row["retry_delay_no_answer"],
                Outcome.FAILED: row["retry_delay_failed"],
            },
        ),
        window=CallingWindow(
            start=row["window_start"], end=row["window_end"], days=parse_days(row["window_days"])
        ),
        default_region=row["default_region"],
        default_timezone=row["default_timezone"],
    )
    return Campaign(
        id=row["id"],
        settings=settings,
        status=CampaignStatus(row["status"]),
        status_reason=row["status_reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


def _settings_to_row(settings: CampaignSettings) -> dict[str, Any]:
    return {
        "name": settings.name,
        "provider": settings.provider.value,
        "caller_id": settings.caller_id,
        "message_kind": settings.message.kind.value,
        "message": settings.message.body,
        "voice": settings.message.voice,
        "language": settings.message.language,
        "calls_per_second": settings.calls_per_second,
        "max_in_flight": settings.max_in_flight,
        "max_attempts": settings.retry.max_attempts,
        "retry_delay_busy": settings.retry.delay_for(Outcome.BUSY),
        "retry_delay_no_answer": settings.retry.delay_for(Outcome.NO_ANSWER),
        "retry_delay_failed": settings.retry.delay_for(Outcome.FAILED),
        "window_start": settings.window.start,
        "window_end": settings.window.end,
        "window_days": settings.window.days_text,
        "default_region": settings.default_region,
        "default_timezone": settings.default_timezone,
    }
