"""The dialing queue: claiming due contacts and creating their attempts, one batch per transaction.

`claim_due` is the only way a contact gets an attempt. In one write transaction it takes the
campaign's due PENDING contacts, soonest first, and for each one decides at that instant:

- its number is on the do-not-call list (global or this campaign's) -> SUPPRESSED, never dialled;
- its calling window is closed in its own time zone -> it waits: `next_attempt_at` moves to the
  window's next opening (the contact is not failed);
- the provider cannot make this call (`Uncallable`: a number it cannot express, a contact's audio
  URL it cannot fetch) -> the attempt is recorded with that outcome and the contact is final;
- otherwise an attempt is created with a fresh correlation key and the claim's time, in UTC and
  as the contact's local time under its zone's rules of that moment (`requested_local`, which
  the reports print), `contacts.attempts` is incremented and the contact is IN_PROGRESS: all
  committed before its dial request goes out.

On SQLite the write transaction is `BEGIN IMMEDIATE`, so no two claims overlap; on PostgreSQL the
rows are taken `FOR UPDATE SKIP LOCKED`, so several dialers can share a campaign without waiting
for each other or claiming the same contact. The unique (contact_id, attempt_number) lets the
database itself refuse a second attempt of the same number.

`release_unsent` undoes a claim whose request was never sent (the window closed between the
claim and the dial, or the run stopped first): the attempt row goes, the contact is due again.

With several workers (see `store.workers`) each attempt names the worker holding it, and
`sent_at` says whether its request may have left: a claim is created unsent (NULL) and marked
just before its request is written, so that the claims of a worker that died can be told apart:
`release_claims_of` puts its unsent ones back in the queue, and nothing marked is ever given back.
A dialer that keeps no such record (SQLite's single dialer) claims with `sent=True`: its claims
count as possibly sent from the start, as before workers existed.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, delete, func, or_, select, update

from ..campaigns import Campaign
from ..db.schema import attempts, campaigns, contacts, suppressions
from ..model import CampaignStatus, ContactState, Outcome
from ..notifications import notify_contacts
from ..providers.base import Progress
from ..windows import local_text, zone_named
from .attempts._bulk import BulkStatement

T = TypeVar("T")
V = TypeVar("V")

# Bound parameters per IN (...) list: well under SQLite's and PostgreSQL's limits.
_CHUNK = 500
# A claim looks at up to this many due contacts per contact it may claim, so that contacts whose
# window is closed (deferred) do not leave a batch nearly empty, without scanning a whole list.
_SCAN_FACTOR = 4
# pg_advisory_xact_lock(_CLAIM_LOCK, campaign id): claims of one campaign take turns, so that
# the calls in flight they count cannot be counted twice by two workers claiming at once.
_CLAIM_LOCK = 0x636C6169  # "clai"


class Uncallable(Exception):
    """The provider cannot make this contact's call; raised by a claim's `prepare`."""

    def __init__(self, outcome: Outcome, reason: str) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason


@dataclass(frozen=True)
class DueContact:
    contact_id: int
    phone: str  # E.164
    fields: Mapping[str, str | None]
    timezone: str


@dataclass(frozen=True)
class Claimed(Generic[T]):
    """A contact whose attempt is committed: its request may now be sent."""

    attempt_id: int
    attempt_number: int
    correlation_key: str
    contact: DueContact
    request: T  # what `prepare` built for it


@dataclass
class ClaimBatch(Generic[T]):
    status: CampaignStatus  # the campaign's status when the batch was claimed
    claimed: list[Claimed[T]] = field(default_factory=list)
    suppressed: int = 0  # contacts found on the do-not-call list
    deferred: int = 0  # contacts whose window is closed: they wait for it to open
    uncallable: int = 0  # contacts the provider cannot call: final


Prepare = Callable[[DueContact, str], T]
"""Builds a contact's request from it and its new correlation key; may raise `Uncallable`."""


def new_correlation_key() -> str:
    return uuid.uuid4().hex


def claim_due(
    connection: Connection,
    campaign: Campaign,
    now: datetime,
    limit: int,
    prepare: Prepare[T],
    *,
    worker_id: int | None = None,
    sent: bool = True,
    max_in_flight: int | None = None,
) -> ClaimBatch[T]:
    """Claim up to `limit` due contacts of `campaign` (see the module docstring).

    Nothing is claimed unless the campaign is RUNNING in the database at this instant, so that a
    pause or a cancel committed by another process stops the dialer at its next claim. The
    attempts are held by `worker_id`; `sent=False` creates them unsent (see `mark_sent`). With
    `max_in_flight`, claims of the campaign take turns (on PostgreSQL) and stop where the
    campaign's live attempts, every worker's, would pass it.
    """
    if max_in_flight is not None and connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(_CLAIM_LOCK, campaign.id)))
    status = CampaignStatus(
        connection.execute(
            select(campaigns.c.status).where(campaigns.c.id == campaign.id)
        ).scalar_one()
    )
    batch: ClaimBatch[T] = ClaimBatch(status)
    if max_in_flight is not None and status is CampaignStatus.RUNNING:
        limit = min(limit, max_in_flight - live_attempt_count(connection, campaign.id))
    if status is not CampaignStatus.RUNNING or limit < 1:
        return batch
    window = campaign.settings.window
    zones: dict[str, ZoneInfo] = {}
    local_now: dict[str, str] = {}  # `now` in each zone, as the attempts record it
    scanned = 0
    while len(batch.claimed) < limit and scanned < limit * _SCAN_FACTOR:
        due = _due_contacts(connection, campaign.id, now, limit - len(batch.claimed))
        if not due:
            break
        scanned += len(due)
        on_list = suppressed_numbers(connection, campaign.id, [c.phone for c in due])
        callable_now: list[DueContact] = []
        deferred: dict[datetime, list[int]] = defaultdict(list)
        for contact in due:
            if contact.phone in on_list:
                continue
            zone = zones.get(contact.timezone)
            if zone is None:
                zone = zones[contact.timezone] = zone_named(contact.timezone)
                local_now[contact.timezone] = local_text(now, zone)
            if window.is_open(now, zone):
                callable_now.append(contact)
            else:
                deferred[window.next_opening(now, zone)].append(contact.contact_id)
        listed = [c.contact_id for c in due if c.phone in on_list]
        _mark(connection, listed, now, state=ContactState.SUPPRESSED)
        if listed and campaign.settings.notify_url is not None:
            notify_contacts(connection, listed, now)
        for opening, ids in deferred.items():
            _mark(connection, ids, now, next_attempt_at=opening)
        batch.suppressed += sum(1 for c in due if c.phone in on_list)
        batch.deferred += sum(len(ids) for ids in deferred.values())
        batch.uncallable += _create_attempts(
            connection, campaign, now, local_now, callable_now, prepare, batch, worker_id, sent
        )
    return batch


def live_attempt_count(connection: Connection, campaign_id: int) -> int:
    """The campaign's attempts without an outcome: claimed, sent or ringing, by any worker."""
    count: int = connection.execute(
        select(func.count()).where(
            attempts.c.campaign_id == campaign_id, attempts.c.outcome.is_(None)
        )
    ).scalar_one()
    return count


def _due_contacts(
    connection: Connection, campaign_id: int, now: datetime, limit: int
) -> list[DueContact]:
    """Due contacts, soonest first: those with no due time (due at once), then the others.

    Two queries, each a range of the (campaign_id, state, next_attempt_at) index read in its
    order and stopped at `limit`: with `OR next_attempt_at IS NULL`, or with `id` in the ORDER BY
    (a whole import shares one due time), PostgreSQL scanned and sorted every pending contact for
    each claim (44 ms at 100,000 contacts).
    """
    found: list[DueContact] = []
    for due in (contacts.c.next_attempt_at.is_(None), contacts.c.next_attempt_at <= now):
        query = (
            select(contacts.c.id, contacts.c.phone, contacts.c.fields, contacts.c.timezone)
            .where(
                contacts.c.campaign_id == campaign_id,
                contacts.c.state == ContactState.PENDING.value,
                due,
            )
            .order_by(contacts.c.next_attempt_at)
            .limit(limit - len(found))
        )
        if connection.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=contacts)
        found.extend(DueContact(*row) for row in connection.execute(query))
        if len(found) >= limit:
            break
    return found


def _create_attempts(
    connection: Connection,
    campaign: Campaign,
    now: datetime,
    local_now: Mapping[str, str],
    due: Sequence[DueContact],
    prepare: Prepare[T],
    batch: ClaimBatch[T],
    worker_id: int | None,
    sent: bool,
) -> int:
    """Create the attempts of `due`, claimed into `batch`; returns how many were uncallable.
    `local_now`: `now` in each contact's zone (`windows.local_text`), for `requested_local`."""
    if not due:
        return 0
    numbers = _highest_attempt_numbers(connection, [c.contact_id for c in due])
    rows: list[tuple[object, ...]] = []
    prepared: dict[str, tuple[DueContact, int, T]] = {}
    uncallable: dict[Outcome, list[int]] = defaultdict(list)
    for contact in due:
        key = new_correlation_key()
        number = numbers.get(contact.contact_id, 0) + 1
        local = local_now[contact.timezone]
        try:
            prepared[key] = (contact, number, prepare(contact, key))
        except Uncallable as exc:
            rows.append(
                (contact.contact_id, number, key, local, exc.outcome.value, now, exc.reason)
            )
            uncallable[exc.outcome].append(contact.contact_id)
        else:
            rows.append((contact.contact_id, number, key, local, None, None, None))
    _INSERT_ATTEMPT.execute(
        connection,
        rows,
        {
            "campaign_id": campaign.id,
            "provider": campaign.settings.provider.value,
            "progress": Progress.REQUESTED.value,
            "requested_at": now,
            "worker_id": worker_id,
            "sent_at": now if sent else None,
        },
    )
    created: dict[str, int] = {}
    for keys in _chunks(list(prepared)):
        created.update(
            (key, attempt_id)
            for attempt_id, key in connection.execute(
                select(attempts.c.id, attempts.c.correlation_key).where(
                    attempts.c.correlation_key.in_(keys)
                )
            )
        )
    for key, (contact, number, request) in prepared.items():
        batch.claimed.append(Claimed(created[key], number, key, contact, request))
    for chunk in _chunks([contact.contact_id for contact, _, _ in prepared.values()]):
        connection.execute(
            update(contacts)
            .where(contacts.c.id.in_(chunk))
            .values(
                state=ContactState.IN_PROGRESS.value,
                attempts=contacts.c.attempts + 1,
                updated_at=now,
            )
        )
    for outcome, ids in uncallable.items():
        _mark(connection, ids, now, state=ContactState(outcome.value), last_outcome=outcome)
    if uncallable and campaign.settings.notify_url is not None:
        notify_contacts(connection, [i for ids in uncallable.values() for i in ids], now)
    return sum(len(ids) for ids in uncallable.values())


# The claim's new attempts, through one compiled statement and the driver's executemany: given a
# list of dicts, SQLAlchemy processed every row's parameters in Python, the largest part of a
# claim's CPU. The ids are read back by correlation key (unique, indexed) in one query a chunk.
_INSERT_ATTEMPT = BulkStatement.insert(
    attempts,
    (
        "contact_id",
        "attempt_number",
        "correlation_key",
        "requested_local",
        "outcome",
        "ended_at",
        "error",
    ),
    shared=("campaign_id", "provider", "progress", "requested_at", "worker_id", "sent_at"),
)


def _highest_attempt_numbers(connection: Connection, contact_ids: Sequence[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    for chunk in _chunks(contact_ids):
        rows = connection.execute(
            select(attempts.c.contact_id, func.max(attempts.c.attempt_number))
            .where(attempts.c.contact_id.in_(chunk))
            .group_by(attempts.c.contact_id)
        )
        found.update((contact_id, highest) for contact_id, highest in rows)
    return found


def suppressed_numbers(connection: Connection, campaign_id: int, phones: Iterable[str]) -> set[str]:
    """Which of `phones` are on the do-not-call list for this campaign (its own or the global)."""
    found: set[str] = set()
    for chunk in _chunks(list(dict.fromkeys(phones))):
        found.update(
            connection.execute(
                select(suppressions.c.phone).where(
                    suppressions.c.phone.in_(chunk),
                    or_(
                        suppressions.c.campaign_id.is_(None),
                        suppressions.c.campaign_id == campaign_id,
                    ),
                )
            ).scalars()
        )
    return found


def release_unsent(
    connection: Connection,
    campaign_id: int,
    due_again: Mapping[int, datetime | None],
    now: datetime,
    *,
    owner: int | None = None,
) -> list[int]:
    """Undo the claims of attempts whose request was never sent; returns the ids undone.

    `due_again` maps each attempt id to the contact's new `next_attempt_at` (None: unchanged, due
    now). The attempt row is deleted (no request carried its key) and the contact is PENDING again
    with its attempt count back, unless meanwhile its number was suppressed (SUPPRESSED) or the
    campaign cancelled (CANCELLED). Attempts that got an answer or an outcome are left alone, and
    so are those no longer held by `owner` (another worker took them over).
    """
    released: list[int] = []
    for chunk in _chunks(list(due_again)):
        conditions: list[Any] = [attempts.c.id.in_(chunk)]
        if owner is not None:
            conditions.append(attempts.c.worker_id == owner)
        undone = _delete_unanswered(connection, conditions)
        _restore_contacts(connection, campaign_id, undone, due_again, now)
        released.extend(attempt_id for attempt_id, _ in undone)
    return released


def release_claims_of(
    connection: Connection, campaign_id: int, worker_ids: Sequence[int], now: datetime
) -> list[int]:
    """Put the unsent claims of (dead) workers back in the queue; returns the attempt ids undone.

    Only claims never marked as sent (`sent_at` NULL) go back: a request that may have left is
    settled by its webhooks, reconciled, or failed at the call timeout, never dialled again blind.
    """
    if not worker_ids:
        return []
    undone = _delete_unanswered(
        connection,
        [
            attempts.c.campaign_id == campaign_id,
            attempts.c.outcome.is_(None),
            attempts.c.worker_id.in_(list(worker_ids)),
            attempts.c.sent_at.is_(None),
        ],
    )
    _restore_contacts(connection, campaign_id, undone, {}, now)
    return [attempt_id for attempt_id, _ in undone]


def _delete_unanswered(connection: Connection, conditions: list[Any]) -> list[tuple[int, int]]:
    """Delete the attempts matching `conditions` that have no answer and no outcome, taking their
    rows in id order (two workers deleting and marking the same rows cannot deadlock); returns
    (attempt id, contact id) of each."""
    chosen = (
        select(attempts.c.id)
        .where(*conditions, attempts.c.outcome.is_(None), attempts.c.provider_call_id.is_(None))
        .order_by(attempts.c.id)
    )
    if connection.dialect.name == "postgresql":
        chosen = chosen.with_for_update()
    deleted = connection.execute(
        delete(attempts)
        .where(attempts.c.id.in_(chosen.scalar_subquery()))
        .returning(attempts.c.id, attempts.c.contact_id)
    )
    return [(attempt_id, contact_id) for attempt_id, contact_id in deleted]


def _restore_contacts(
    connection: Connection,
    campaign_id: int,
    undone: Sequence[tuple[int, int]],
    due_again: Mapping[int, datetime | None],
    now: datetime,
) -> None:
    """The contacts of undone claims: due again, their attempt count back (see release_unsent)."""
    if not undone:
        return
    contact_ids = [contact_id for _, contact_id in undone]
    phones: dict[int, str] = {}
    for chunk in _chunks(contact_ids):
        rows = connection.execute(
            select(contacts.c.id, contacts.c.phone).where(
                contacts.c.id.in_(chunk), contacts.c.state == ContactState.IN_PROGRESS.value
            )
        )
        phones.update((contact_id, phone) for contact_id, phone in rows)
    on_list = suppressed_numbers(connection, campaign_id, phones.values())
    cancelled = (
        connection.execute(
            select(campaigns.c.status).where(campaigns.c.id == campaign_id)
        ).scalar_one()
        == CampaignStatus.CANCELLED.value
    )
    for attempt_id, contact_id in undone:
        if contact_id not in phones:
            continue
        state = ContactState.PENDING
        if phones[contact_id] in on_list:
            state = ContactState.SUPPRESSED
        elif cancelled:
            state = ContactState.CANCELLED
        values: dict[str, object] = {
            "state": state.value,
            "attempts": contacts.c.attempts - 1,
            "updated_at": now,
        }
        if due_again.get(attempt_id) is not None:
            values["next_attempt_at"] = due_again[attempt_id]
        connection.execute(update(contacts).where(contacts.c.id == contact_id).values(values))
        if state.is_final:  # the outcome notification, if the campaign sends them
            notify_contacts(connection, [contact_id], now)


@dataclass(frozen=True)
class LiveAttempt:
    """An attempt without an outcome, with what it takes to send its request again."""

    attempt_id: int
    correlation_key: str
    provider_call_id: str | None
    requested_at: datetime
    contact: DueContact


def live_attempt_ids(connection: Connection, campaign_id: int) -> set[int]:
    """The ids of the campaign's attempts that have no outcome yet (calls in flight)."""
    return set(
        connection.execute(
            select(attempts.c.id).where(
                attempts.c.campaign_id == campaign_id, attempts.c.outcome.is_(None)
            )
        ).scalars()
    )


def live_attempts(
    connection: Connection,
    campaign_id: int,
    requested_before: datetime,
    attempt_ids: Sequence[int] | None = None,
    *,
    owner: int | None = None,
) -> list[LiveAttempt]:
    """The campaign's live attempts sent before `requested_before` (or those of `attempt_ids`
    among them), oldest first; with `owner`, only those that worker holds (or that no worker
    holds). Claims not sent yet are their worker's business, not listed."""
    query = (
        select(
            attempts.c.id,
            attempts.c.correlation_key,
            attempts.c.provider_call_id,
            attempts.c.requested_at,
            contacts.c.id,
            contacts.c.phone,
            contacts.c.fields,
            contacts.c.timezone,
        )
        .join(contacts, contacts.c.id == attempts.c.contact_id)
        .where(
            attempts.c.campaign_id == campaign_id,
            attempts.c.outcome.is_(None),
            attempts.c.sent_at < requested_before,
        )
        .order_by(attempts.c.requested_at, attempts.c.id)
    )
    if attempt_ids is not None:
        query = query.where(attempts.c.id.in_(list(attempt_ids)))
    if owner is not None:
        query = query.where(or_(attempts.c.worker_id == owner, attempts.c.worker_id.is_(None)))
    return [
        LiveAttempt(attempt_id, key, call_id, requested_at, DueContact(*contact))
        for attempt_id, key, call_id, requested_at, *contact in connection.execute(query)
    ]


@dataclass(frozen=True)
class Outlook:
    """What is left of a campaign: for deciding whether to wait, stop for now, or finish."""

    pending: int
    in_progress: int
    next_due: datetime | None  # the soonest next_attempt_at of a pending contact


def outlook(connection: Connection, campaign_id: int) -> Outlook:
    pending, in_progress, next_due = connection.execute(
        select(
            func.count().filter(contacts.c.state == ContactState.PENDING.value),
            func.count().filter(contacts.c.state == ContactState.IN_PROGRESS.value),
            func.min(contacts.c.next_attempt_at).filter(
                contacts.c.state == ContactState.PENDING.value
            ),
        ).where(
            contacts.c.campaign_id == campaign_id,
            contacts.c.state.in_([ContactState.PENDING.value, ContactState.IN_PROGRESS.value]),
        )
    ).one()
    return Outlook(pending, in_progress, next_due)


def outcome_counts(connection: Connection, campaign_id: int, after_attempt: int) -> dict[str, int]:
    """The campaign's attempts after attempt id `after_attempt`, by outcome ("live" for none)."""
    rows = connection.execute(
        select(attempts.c.outcome, func.count())
        .where(attempts.c.campaign_id == campaign_id, attempts.c.id > after_attempt)
        .group_by(attempts.c.outcome)
    )
    return {outcome or "live": count for outcome, count in rows}


def last_attempt_id(connection: Connection) -> int:
    highest: int = connection.execute(
        select(func.coalesce(func.max(attempts.c.id), 0))
    ).scalar_one()
    return highest


def _mark(
    connection: Connection,
    contact_ids: Sequence[int],
    now: datetime,
    *,
    state: ContactState | None = None,
    next_attempt_at: datetime | None = None,
    last_outcome: Outcome | None = None,
) -> None:
    values: dict[str, object] = {"updated_at": now}
    if state is not None:
        values["state"] = state.value
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    if last_outcome is not None:
        values["last_outcome"] = last_outcome.value
    for chunk in _chunks(contact_ids):
        connection.execute(
            update(contacts)
            .where(and_(contacts.c.id.in_(chunk), contacts.c.state == ContactState.PENDING.value))
            .values(values)
        )


def _chunks(values: Sequence[V]) -> Iterator[list[V]]:
    for start in range(0, len(values), _CHUNK):
        yield list(values[start : start + _CHUNK])
