"""Campaign rows: creating, finding, listing and changing the status of campaigns.

Also the read-only summaries of a campaign's contacts and imports that `campaign list`, `show` and
`preview` print, and cancelling, which changes the campaign and its pending contacts together.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, case, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..campaigns import Campaign, CampaignSettings, Message, RetryPolicy
from ..db.schema import campaigns, contacts, imports
from ..errors import AlreadyExists, InvalidTransition, NotFound
from ..model import CampaignStatus, ContactState, MessageKind, Outcome, Provider, TimezoneSource
from ..notifications import notify_campaign, notify_contacts
from ..responses import KeyMenu
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
    """Move a campaign to `status`, if that is allowed from the status it has in the database.

    Completing or cancelling a campaign with a notify URL writes its notification in the same
    transaction."""
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
    if status is not current and status in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED):
        notify_campaign(connection, campaign.id, now)
    return get_campaign_by_id(connection, campaign.id)


@dataclass(frozen=True)
class Cancelled:
    campaign: Campaign
    contacts_cancelled: int  # pending contacts that will now never be dialled
    in_progress: int  # calls already placed, left to finish


def cancel_campaign(connection: Connection, campaign: Campaign, reason: str | None) -> Cancelled:
    """Cancel the campaign and mark its pending contacts cancelled, in the caller's transaction.

    Cancelling a campaign that is already cancelled changes nothing but still cancels any pending
    contact, so that nothing of a cancelled campaign is ever left to dial. With a notify URL, each
    contact cancelled and the campaign get their notifications in the same transaction.
    """
    now = now_utc()
    pending = (
        contacts.c.campaign_id == campaign.id,
        contacts.c.state == ContactState.PENDING.value,
    )
    notify = campaign.settings.notify_url is not None
    ids = (
        list(connection.execute(select(contacts.c.id).where(*pending)).scalars()) if notify else []
    )
    result = connection.execute(
        update(contacts).where(*pending).values(state=ContactState.CANCELLED.value, updated_at=now)
    )
    if notify:
        notify_contacts(connection, ids, now)
    if campaign.status is not CampaignStatus.CANCELLED:
        campaign = set_status(connection, campaign, CampaignStatus.CANCELLED, reason)
    in_progress = contact_counts(connection, [campaign.id])[campaign.id][ContactState.IN_PROGRESS]
    return Cancelled(campaign, result.rowcount, in_progress)


def contact_counts(
    connection: Connection, campaign_ids: Sequence[int]
) -> dict[int, Counter[ContactState]]:
    """Each campaign's number of contacts in each state (a state with none counts 0)."""
    counts: dict[int, Counter[ContactState]] = {
        campaign_id: Counter() for campaign_id in campaign_ids
    }
    if not campaign_ids:
        return counts
    rows = connection.execute(
        select(contacts.c.campaign_id, contacts.c.state, func.count())
        .where(contacts.c.campaign_id.in_(campaign_ids))
        .group_by(contacts.c.campaign_id, contacts.c.state)
    )
    for campaign_id, state, count in rows:
        counts[campaign_id][ContactState(state)] = count
    return counts


@dataclass(frozen=True)
class ImportSummary:
    file_name: str
    status: str  # running, completed, failed
    started_at: datetime
    finished_at: datetime | None
    rows_read: int
    imported: int
    duplicates: int
    suppressed: int
    rejected: int
    error: str | None


def campaign_imports(connection: Connection, campaign_id: int) -> list[ImportSummary]:
    """The campaign's imports, oldest first."""
    rows = connection.execute(
        select(
            imports.c.file_name,
            imports.c.status,
            imports.c.started_at,
            imports.c.finished_at,
            imports.c.rows_read,
            imports.c.imported,
            imports.c.duplicates,
            imports.c.suppressed,
            imports.c.rejected,
            imports.c.error,
        )
        .where(imports.c.campaign_id == campaign_id)
        .order_by(imports.c.started_at, imports.c.id)
    )
    return [ImportSummary(**row) for row in rows.mappings()]


@dataclass(frozen=True)
class PendingContact:
    phone: str  # E.164
    fields: Mapping[str, str | None]
    timezone: str
    timezone_source: TimezoneSource


def first_pending_contacts(
    connection: Connection, campaign_id: int, limit: int
) -> list[PendingContact]:
    """The first `limit` pending contacts, in the order they were imported."""
    rows = connection.execute(
        select(contacts.c.phone, contacts.c.fields, contacts.c.timezone, contacts.c.timezone_source)
        .where(
            contacts.c.campaign_id == campaign_id,
            contacts.c.state == ContactState.PENDING.value,
        )
        .order_by(contacts.c.id)
        .limit(limit)
    )
    return [
        PendingContact(phone, fields, timezone, TimezoneSource(source))
        for phone, fields, timezone, source in rows
    ]


@dataclass(frozen=True)
class ZoneCount:
    timezone: str
    timezone_source: TimezoneSource
    due: int  # pending contacts that may be called as soon as their window is open
    waiting: int  # pending contacts waiting for a retry due after `now`

    @property
    def pending(self) -> int:
        return self.due + self.waiting


def pending_by_zone(connection: Connection, campaign_id: int, now: datetime) -> list[ZoneCount]:
    """The campaign's pending contacts counted by time zone and how that zone was chosen."""
    waiting = func.sum(case((contacts.c.next_attempt_at > now, 1), else_=0))
    rows = connection.execute(
        select(contacts.c.timezone, contacts.c.timezone_source, func.count(), waiting)
        .where(
            contacts.c.campaign_id == campaign_id,
            contacts.c.state == ContactState.PENDING.value,
        )
        .group_by(contacts.c.timezone, contacts.c.timezone_source)
        .order_by(contacts.c.timezone, contacts.c.timezone_source)
    )
    return [
        ZoneCount(zone, TimezoneSource(source), count - int(waits), int(waits))
        for zone, source, count, waits in rows
    ]


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
        keys=KeyMenu(
            keys=row["response_keys"] or {},
            opt_out_key=row["opt_out_key"],
            key_timeout=row["key_timeout"],
            replay_on_no_input=row["replay_on_no_input"],
        ),
        notify_url=row["notify_url"],
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
        "response_keys": dict(settings.keys.keys) or None,
        "opt_out_key": settings.keys.opt_out_key,
        "key_timeout": settings.keys.key_timeout,
        "replay_on_no_input": settings.keys.replay_on_no_input,
        "notify_url": settings.notify_url,
    }
