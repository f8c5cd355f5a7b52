"""The do-not-call list: numbers never dialled, in every campaign (global) or in one.

Adding a number also marks its pending contacts `suppressed` in the same transaction, so that no
dialer can pick them up between the two (with their outcome notifications, where their campaign
sends them). Removing a number does not bring them back: calling
someone who asked not to be called is the worse mistake, so that stays a deliberate act.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from sqlalchemy import ColumnElement, Connection, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..db.schema import campaigns, contacts, suppressions
from ..model import ContactState
from ..notifications import notify_contacts
from .campaigns import now_utc

# Numbers per statement: well under SQLite's and PostgreSQL's limits on bound parameters.
_CHUNK = 500


@dataclass(frozen=True)
class Suppression:
    phone: str  # E.164
    campaign: str | None  # the campaign's name; None for a global entry
    source: str  # manual, file:<name>, ...
    reason: str | None
    created_at: datetime


@dataclass(frozen=True)
class Added:
    added: list[str]  # numbers newly suppressed, in the order given
    already: list[str]  # numbers that were already on this list
    contacts_suppressed: int  # pending contacts now marked suppressed


@dataclass(frozen=True)
class Removed:
    removed: list[str]
    not_listed: list[str]  # numbers that were not on this list


def add_suppressions(
    connection: Connection,
    reasons: Mapping[str, str | None],
    campaign_id: int | None,
    source: str,
) -> Added:
    """Suppress each E.164 number in `reasons` (with its reason) for one campaign, or for all
    when `campaign_id` is None."""
    wanted = list(reasons)
    existing = _listed(connection, wanted, campaign_id)
    new = [phone for phone in wanted if phone not in existing]
    now = now_utc()
    insert_ignoring_duplicates = (
        postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    )
    for chunk in _chunks(new):
        connection.execute(
            insert_ignoring_duplicates(suppressions).on_conflict_do_nothing(),
            [
                {
                    "phone": phone,
                    "campaign_id": campaign_id,
                    "source": source,
                    "reason": reasons[phone],
                    "created_at": now,
                }
                for phone in chunk
            ],
        )
    suppressed = 0
    to_notify: list[int] = []  # contacts made final whose campaign sends notifications
    for chunk in _chunks(wanted):
        # Naming the campaigns lets the unique (campaign_id, phone) index find the contacts:
        # there is no index on the phone alone (it would slow every import down).
        in_campaigns = (
            contacts.c.campaign_id == campaign_id
            if campaign_id is not None
            else contacts.c.campaign_id.in_(select(campaigns.c.id))
        )
        condition = [
            in_campaigns,
            contacts.c.phone.in_(chunk),
            contacts.c.state == ContactState.PENDING.value,
        ]
        notified = select(campaigns.c.id).where(campaigns.c.notify_url.is_not(None))
        final = connection.execute(
            select(contacts.c.id).where(*condition, contacts.c.campaign_id.in_(notified))
        ).scalars()
        to_notify.extend(final)
        result = connection.execute(
            update(contacts)
            .where(*condition)
            .values(state=ContactState.SUPPRESSED.value, updated_at=now)
        )
        suppressed += result.rowcount
    notify_contacts(connection, to_notify, now)
    return Added(new, [phone for phone in wanted if phone in existing], suppressed)


def remove_suppressions(
    connection: Connection, phones: Sequence[str], campaign_id: int | None
) -> Removed:
    """Take `phones` off one campaign's list (or the global one). Contacts stay suppressed."""
    wanted = list(dict.fromkeys(phones))
    existing = _listed(connection, wanted, campaign_id)
    for chunk in _chunks(wanted):
        connection.execute(
            delete(suppressions).where(suppressions.c.phone.in_(chunk), _scope(campaign_id))
        )
    return Removed(
        [phone for phone in wanted if phone in existing],
        [phone for phone in wanted if phone not in existing],
    )


def list_suppressions(connection: Connection, campaign_id: int | None = None) -> list[Suppression]:
    """Every entry; with `campaign_id`, the entries that apply to that campaign (its own and the
    global ones)."""
    query = (
        select(
            suppressions.c.phone,
            campaigns.c.name,
            suppressions.c.source,
            suppressions.c.reason,
            suppressions.c.created_at,
        )
        .select_from(suppressions.outerjoin(campaigns))
        .order_by(suppressions.c.phone, campaigns.c.name.is_not(None), campaigns.c.name)
    )
    if campaign_id is not None:
        query = query.where(
            or_(suppressions.c.campaign_id.is_(None), suppressions.c.campaign_id == campaign_id)
        )
    return [Suppression(*row) for row in connection.execute(query)]


def last_suppression_id(connection: Connection) -> int:
    """The newest entry's id (0 when the list is empty): where `suppressed_since` starts."""
    newest: int = connection.execute(
        select(func.coalesce(func.max(suppressions.c.id), 0))
    ).scalar_one()
    return newest


def suppressed_since(
    connection: Connection, campaign_id: int, after_id: int
) -> tuple[int, list[str]]:
    """Numbers listed after entry `after_id` that apply to this campaign (its own or global),
    and the newest id seen: the dialer's cheap look for numbers listed while it runs."""
    rows = connection.execute(
        select(suppressions.c.id, suppressions.c.phone, suppressions.c.campaign_id)
        .where(suppressions.c.id > after_id)
        .order_by(suppressions.c.id)
    ).all()
    newest = rows[-1][0] if rows else after_id
    return newest, [
        phone for _, phone, listed_for in rows if listed_for is None or listed_for == campaign_id
    ]


def _listed(connection: Connection, phones: Sequence[str], campaign_id: int | None) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(phones):
        found.update(
            connection.execute(
                select(suppressions.c.phone).where(
                    suppressions.c.phone.in_(chunk), _scope(campaign_id)
                )
            ).scalars()
        )
    return found


def _scope(campaign_id: int | None) -> ColumnElement[bool]:
    if campaign_id is None:
        return suppressions.c.campaign_id.is_(None)
    return suppressions.c.campaign_id == campaign_id


def _chunks(phones: Iterable[str]) -> Iterator[list[str]]:
    remaining = iter(phones)
    while chunk := list(islice(remaining, _CHUNK)):
        yield chunk
