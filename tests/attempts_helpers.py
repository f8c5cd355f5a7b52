"""What the attempt-store and receiver tests share: a campaign with contacts, attempts placed the
way the dialer places them, the rows to check, and webhook bodies in each vendor's own format
(the shapes of the adapters' fixtures under tests/providers/fixtures/)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, select, update

from campaigner.campaigns import CampaignSettings, Message, RetryPolicy
from campaigner.db import Database
from campaigner.db.schema import attempts, contacts, events
from campaigner.errors import ValidationError
from campaigner.model import ContactState, MessageKind, Outcome, Provider
from campaigner.providers import Progress
from campaigner.store.campaigns import create_campaign
from campaigner.windows import local_text, zone_named

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
CALLER_ID = "+13215550100"


def make_campaign(
    database: Database,
    provider: Provider = Provider.ENABLEX,
    *,
    name: str = "notices",
    max_attempts: int = 3,
) -> int:
    settings = CampaignSettings(
        name=name,
        provider=provider,
        caller_id=CALLER_ID,
        message=Message(MessageKind.TTS, "Your parcel arrives today."),
        retry=RetryPolicy(
            max_attempts=max_attempts,
            delays={Outcome.BUSY: 600, Outcome.NO_ANSWER: 3600, Outcome.FAILED: 1800},
        ),
    ).validate()
    with database.write() as connection:
        return create_campaign(connection, settings).id


def make_contact(database: Database, campaign_id: int, phone: str = "+12025550188") -> int:
    with database.write() as connection:
        return int(
            connection.execute(
                insert(contacts)
                .values(
                    campaign_id=campaign_id,
                    phone=phone,
                    phone_raw=phone,
                    fields={},
                    timezone="America/New_York",
                    timezone_source="number",
                    state=ContactState.PENDING.value,
                    next_attempt_at=None,
                    created_at=NOW,
                    updated_at=NOW,
                )
                .returning(contacts.c.id)
            ).scalar_one()
        )


def local_time(zone_name: str, moment: datetime) -> str | None:
    """An attempt's `requested_local` as the dialer writes it; None in a zone Python does not
    know (the dialer never calls one; an upgraded database's older calls may have one)."""
    try:
        return local_text(moment, zone_named(zone_name))
    except ValidationError:
        return None


def start_attempt(
    database: Database,
    contact_id: int,
    provider: Provider = Provider.ENABLEX,
    *,
    requested_at: datetime = NOW,
) -> tuple[int, str]:
    """What the dialer does when it claims a contact and sends its request: (attempt id,
    correlation key)."""
    key = uuid.uuid4().hex
    with database.write() as connection:
        row = connection.execute(
            select(contacts.c.campaign_id, contacts.c.attempts, contacts.c.timezone).where(
                contacts.c.id == contact_id
            )
        ).one()
        connection.execute(
            update(contacts)
            .where(contacts.c.id == contact_id)
            .values(
                state=ContactState.IN_PROGRESS.value,
                attempts=row.attempts + 1,
                updated_at=requested_at,
            )
        )
        numbers = connection.execute(
            select(attempts.c.attempt_number).where(attempts.c.contact_id == contact_id)
        ).scalars()
        attempt_id = connection.execute(
            insert(attempts)
            .values(
                contact_id=contact_id,
                campaign_id=row.campaign_id,
                attempt_number=max(numbers, default=0) + 1,
                provider=provider.value,
                correlation_key=key,
                progress=Progress.REQUESTED.value,
                requested_at=requested_at,
                requested_local=local_time(row.timezone, requested_at),
                sent_at=requested_at,
            )
            .returning(attempts.c.id)
        ).scalar_one()
    return int(attempt_id), key


def attempt(database: Database, attempt_id: int) -> RowMapping:
    with database.read() as connection:
        return (
            connection.execute(select(attempts).where(attempts.c.id == attempt_id)).mappings().one()
        )


def contact(database: Database, contact_id: int) -> RowMapping:
    with database.read() as connection:
        return (
            connection.execute(select(contacts).where(contacts.c.id == contact_id)).mappings().one()
        )


# Contact column -> attempt column; first_* from the lowest attempt_number, last_* the highest.
SUMMARY = {
    "first_call_at": "requested_at",
    "first_call_id": "provider_call_id",
    "first_call_local": "requested_local",
    "last_call_at": "requested_at",
    "last_call_local": "requested_local",
    "last_call_id": "provider_call_id",
    "last_answered_at": "answered_at",
    "last_ended_at": "ended_at",
    "last_dtmf": "dtmf",
    "last_reason": "provider_reason",
}


def expected_summaries(connection: Connection) -> dict[int, dict[str, Any]]:
    """Each contact's summary worked out from attempts here, in Python."""
    found: dict[int, dict[str, Any]] = {}
    for contact_id in connection.execute(select(contacts.c.id)).scalars():
        rows = (
            connection.execute(
                select(attempts)
                .where(attempts.c.contact_id == contact_id)
                .order_by(attempts.c.attempt_number)
            )
            .mappings()
            .all()
        )
        found[contact_id] = {
            name: (rows[0 if name.startswith("first") else -1][source] if rows else None)
            for name, source in SUMMARY.items()
        }
    return found


def stored_summaries(connection: Connection) -> dict[int, dict[str, Any]]:
    rows = connection.execute(select(contacts.c.id, *(contacts.c[n] for n in SUMMARY)))
    return {row[0]: dict(zip(SUMMARY, row[1:], strict=True)) for row in rows}


def assert_summaries_match(database: Database) -> None:
    with database.read() as connection:
        assert stored_summaries(connection) == expected_summaries(connection)


def event_rows(database: Database) -> list[RowMapping]:
    with database.read() as connection:
        return list(connection.execute(select(events).order_by(events.c.id)).mappings())


def event_statuses(database: Database) -> list[str]:
    return [row["status"] for row in event_rows(database)]


def later(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


# --- Webhook bodies, as each vendor sends them ----------------------------------------------------


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def enablex_state(voice_id: str, state: str, key: str | None = None, **extra: Any) -> bytes:
    """An EnableX call-state event (`disconnect_reason` etc. in `extra`)."""
    document: dict[str, Any] = {
        "voice_id": voice_id,
        "state": state,
        "from": CALLER_ID,
        "to": "+12025550188",
        "channel_id": "c-1",
        "timestamp": "2026-03-02T15:00:05Z",
    }
    if key is not None:
        document["owner_ref"] = key
    return _json(document | extra)


def enablex_play(voice_id: str, playstate: str, key: str | None = None, **extra: Any) -> bytes:
    """An EnableX play-state event."""
    document: dict[str, Any] = {
        "voice_id": voice_id,
        "playstate": playstate,
        "from": CALLER_ID,
        "to": "+12025550188",
        "prompt_ref": "notice",
        "timestamp": "2026-03-02T15:00:20Z",
    }
    if key is not None:
        document["owner_ref"] = key
    return _json(document | extra)


def fractel_notification(uid: str, status: str, disposition: str = "") -> bytes:
    """A FoneStorm call notification (no correlation key: only the call's uid)."""
    return _json(
        {
            "account_code": "SIM0001",
            "direction": "OUTBOUND",
            "from": "3215550100",
            "to": "12025550188",
            "type": "VOICE",
            "status": status,
            "disposition": disposition,
            "uid": uid,
        }
    )


def webex_receipt(message_id: str, status: str, key: str | None = None) -> bytes:
    """A Webex Connect status receipt (`deliveryInfoNotification`)."""
    return _json(
        {
            "deliveryInfoNotification": {
                "deliveryInfo": {
                    "timeStamp": "2026-03-02T15:00:09.481",
                    "Description": status.title(),
                    "deliveryChannel": "voice",
                    "destination": "+12025550188",
                    "deliveryStatus": status,
                    "code": "7519",
                },
                "transid": message_id,
                "correlationid": key or "",
                "callbackData": "",
            }
        }
    )
