"""The outbox: notification rows written in the transaction of the change they report, then
claimed, sent and marked by the sender.

A row's `payload` is the exact JSON body that is signed and sent, fixed when the row is written,
so every retry sends the same bytes. Its `notification_id` is derived from what it reports (the
campaign, the contact and its final state), so writing it twice is a no-op, and it is a UUID
unlikely to collide with another installation's.

Claiming a row moves its `next_attempt_at` a lease ahead: another process sees it as not due
until then, and if the sender dies while sending, the row is due again once the lease ends. On
PostgreSQL the rows are taken FOR UPDATE SKIP LOCKED; SQLite's write transactions are serialised.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..db.schema import campaigns, contacts, notifications
from ..model import ContactState

CONTACT_FINAL = "contact.final"
CAMPAIGN_COMPLETED = "campaign.completed"
CAMPAIGN_CANCELLED = "campaign.cancelled"
_NAMESPACE = uuid.UUID("4f0f6a57-3c1e-4d55-9a63-7c0b5d1c6e21")
_CHUNK = 500
_FINAL_STATES = [state.value for state in ContactState if state.is_final]


def body_bytes(payload: dict[str, Any]) -> str:
    """The JSON text of a payload, compact, keys sorted: what is stored, signed and sent."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _stamp(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def _notification_id(campaign_created: datetime, *parts: object) -> str:
    name = "|".join(str(part) for part in (_stamp(campaign_created), *parts))
    return str(uuid.uuid5(_NAMESPACE, name))


def notify_contacts(conn: Connection, contact_ids: Sequence[int], now: datetime) -> int:
    """Write a `contact.final` notification for each of these contacts that is final and whose
    campaign has a notify URL; returns how many rows were new. Call it in the transaction that
    made them final."""
    rows: list[dict[str, Any]] = []
    query = (
        select(
            contacts.c.id,
            contacts.c.campaign_id,
            contacts.c.phone,
            contacts.c.state,
            contacts.c.last_outcome,
            contacts.c.attempts,
            contacts.c.response,
            contacts.c.responded_at,
            contacts.c.fields,
            campaigns.c.name,
            campaigns.c.notify_url,
            campaigns.c.created_at,
        )
        .join(campaigns, campaigns.c.id == contacts.c.campaign_id)
        .where(campaigns.c.notify_url.is_not(None), contacts.c.state.in_(_FINAL_STATES))
    )
    for chunk in _chunks(sorted(set(contact_ids))):
        for row in conn.execute(query.where(contacts.c.id.in_(chunk))).mappings():
            notification_id = _notification_id(
                row["created_at"], row["campaign_id"], "contact", row["id"], row["state"]
            )
            payload = {
                "id": notification_id,
                "type": CONTACT_FINAL,
                "created_at": _stamp(now),
                "campaign": {"id": row["campaign_id"], "name": row["name"]},
                "contact": {
                    "id": row["id"],
                    "phone": row["phone"],
                    "state": row["state"],
                    "last_outcome": row["last_outcome"],
                    "attempts": row["attempts"],
                    "response": row["response"],
                    "responded_at": _stamp(row["responded_at"]),
                    "opted_out": row["response"] == "opt_out",
                    "fields": row["fields"],
                },
            }
            rows.append(
                _row(notification_id, row["campaign_id"], row["id"], row["notify_url"], payload)
                | {"created_at": now, "next_attempt_at": now}
            )
    return _insert(conn, rows)


def notify_campaign(conn: Connection, campaign_id: int, now: datetime) -> int:
    """Write the campaign's `campaign.completed` (or `campaign.cancelled`) notification, with its
    contacts counted by state and by response, if it has a notify URL; 1 if a row was written.

    Each completion gets its own id: a completed campaign resumed with new contacts and completed
    again is notified again. First, any final contact without a notification gets one (those made
    final by a claim: found on the do-not-call list, or a number the provider cannot dial)."""
    campaign = (
        conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).mappings().first()
    )
    if campaign is None or campaign["notify_url"] is None:
        return 0
    _notify_the_rest(conn, campaign_id, now)
    status = campaign["status"]
    kind = CAMPAIGN_CANCELLED if status == "cancelled" else CAMPAIGN_COMPLETED
    earlier = conn.execute(
        select(func.count()).where(
            notifications.c.campaign_id == campaign_id, notifications.c.kind == kind
        )
    ).scalar_one()
    states: Counter[str] = Counter()
    responses: Counter[str] = Counter()
    counted = (
        select(contacts.c.state, contacts.c.response, func.count())
        .where(contacts.c.campaign_id == campaign_id)
        .group_by(contacts.c.state, contacts.c.response)
    )
    for state, response, count in conn.execute(counted):
        states[state] += count
        if response is not None:
            responses[response] += count
    notification_id = _notification_id(campaign["created_at"], campaign_id, kind, earlier + 1)
    payload = {
        "id": notification_id,
        "type": kind,
        "created_at": _stamp(now),
        "campaign": {
            "id": campaign_id,
            "name": campaign["name"],
            "status": status,
            "started_at": _stamp(campaign["started_at"]),
            "finished_at": _stamp(campaign["finished_at"]),
            "contacts": dict(sorted(states.items())),
            "responses": dict(sorted(responses.items())),
        },
    }
    row = _row(notification_id, campaign_id, None, campaign["notify_url"], payload)
    return _insert(conn, [row | {"created_at": now, "next_attempt_at": now}])


def _notify_the_rest(conn: Connection, campaign_id: int, now: datetime) -> None:
    notified = set(
        conn.execute(
            select(notifications.c.contact_id).where(
                notifications.c.campaign_id == campaign_id, notifications.c.contact_id.is_not(None)
            )
        ).scalars()
    )
    final = conn.execute(
        select(contacts.c.id).where(
            contacts.c.campaign_id == campaign_id, contacts.c.state.in_(_FINAL_STATES)
        )
    ).scalars()
    missing = [contact_id for contact_id in final if contact_id not in notified]
    if missing:
        notify_contacts(conn, missing, now)


def _row(
    notification_id: str,
    campaign_id: int,
    contact_id: int | None,
    url: str,
    payload: dict[str, Any],
) -> dict[str, Any]:
    return {
        "notification_id": notification_id,
        "campaign_id": campaign_id,
        "contact_id": contact_id,
        "kind": payload["type"],
        "url": url,
        "payload": body_bytes(payload),
        "attempts": 0,
    }


def _insert(conn: Connection, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    written = 0
    for start in range(0, len(rows), _CHUNK):
        result = conn.execute(
            dialect_insert(notifications)
            .on_conflict_do_nothing(index_elements=["notification_id"])
            .returning(notifications.c.id),
            rows[start : start + _CHUNK],
        )
        written += len(result.all())
    return written


# --- The sender's side ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """A notification claimed for sending."""

    id: int
    notification_id: str
    url: str
    payload: str
    attempts: int  # tries before this one


def claim_due(conn: Connection, now: datetime, limit: int, lease: float) -> list[Outgoing]:
    """Take up to `limit` due undelivered notifications, oldest due first, for `lease` seconds."""
    query = (
        select(
            notifications.c.id,
            notifications.c.notification_id,
            notifications.c.url,
            notifications.c.payload,
            notifications.c.attempts,
        )
        .where(notifications.c.delivered_at.is_(None), notifications.c.next_attempt_at <= now)
        .order_by(notifications.c.next_attempt_at)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed = [Outgoing(*row) for row in conn.execute(query)]
    if claimed:
        conn.execute(
            update(notifications)
            .where(notifications.c.id.in_([item.id for item in claimed]))
            .values(next_attempt_at=now + timedelta(seconds=lease))
        )
    return claimed


@dataclass(frozen=True)
class Result:
    id: int
    delivered: bool
    error: str | None = None
    retry_at: datetime | None = None  # when a failed one is due again


def record_results(conn: Connection, results: Sequence[Result], now: datetime) -> None:
    """Mark sent notifications delivered, or due again at their `retry_at` with the error."""
    delivered = [r.id for r in results if r.delivered]
    for chunk in _chunks(delivered):
        conn.execute(
            update(notifications)
            .where(notifications.c.id.in_(chunk))
            .values(delivered_at=now, attempts=notifications.c.attempts + 1, last_error=None)
        )
    failed = [r for r in results if not r.delivered]
    if failed:
        conn.execute(
            update(notifications)
            .where(notifications.c.id == bindparam("n_id"), notifications.c.delivered_at.is_(None))
            .values(
                next_attempt_at=bindparam("n_next"),
                attempts=notifications.c.attempts + 1,
                last_error=bindparam("n_error"),
            ),
            [{"n_id": r.id, "n_next": r.retry_at or now, "n_error": r.error} for r in failed],
        )


def next_due(conn: Connection) -> datetime | None:
    """When the next undelivered notification is due; None when everything is delivered."""
    due: datetime | None = conn.execute(
        select(func.min(notifications.c.next_attempt_at)).where(
            notifications.c.delivered_at.is_(None)
        )
    ).scalar_one()
    return due


def undelivered_count(conn: Connection) -> int:
    count: int = conn.execute(
        select(func.count()).where(notifications.c.delivered_at.is_(None))
    ).scalar_one()
    return count


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]
