"""Attempts after their creation: the provider's answer to a dial, webhook events, orphans, stale
calls, and each contact's next state once its attempt has an outcome.

Webhooks can come twice, late, out of order, or before the dial answer naming their call has been
recorded. So an attempt's `progress` only moves forward (`Progress.furthest`), its outcome is
decided by `settle_outcome` (the first one stays, except that evidence of an answer turns a
`no_answer` into `delivered`), an event that changes nothing is marked `duplicate`, and an event
that matches no attempt is kept as an `orphan` with what it named, to be applied by
`match_orphans` when the dial answer is recorded.

Every function here works in the caller's write transaction. On PostgreSQL each one first takes
one transaction-scoped advisory lock: without it the receiver could file an event as an orphan
while the dialer, in a concurrent transaction, records that event's call id and looks for orphans
before the receiver commits, and the event would stay an orphan for ever. SQLite's write
transactions are serialised already (`BEGIN IMMEDIATE`). A caller that also changes other rows
in the same transaction should call these first, so that the lock is always taken first.

`_rows` holds an attempt in memory while events change it, `_contacts` decides contacts' next
states, `_results` the values returned.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import (
    Connection,
    RowMapping,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    update,
)

from ...db.schema import attempts, events
from ...durations import format_duration
from ...model import Outcome, Provider
from ...providers import (
    Accepted,
    CallEvent,
    DialAnswer,
    FollowUp,
    Progress,
    Refused,
    Unparseable,
    WebhookResult,
    adapter_for,
)
from ..responses import REPLAYING, record_responses, replay_messages, replaying_campaigns
from ._bulk import BulkStatement
from ._contacts import give_back_refused, settle_contacts
from ._results import NOTHING, Applied, AttemptFinished, EventStatus, FollowUpNeeded
from ._rows import (
    ATTEMPT_COLUMNS,
    AttemptLookup,
    LiveAttempt,
    chunks,
    serialise,
    write_attempts,
)

# --- The dialer's side ----------------------------------------------------------------------------


def record_dial_answers(
    conn: Connection,
    answers: Sequence[tuple[int, DialAnswer]],
    now: datetime,
    *,
    owner: int | None = None,
) -> Applied:
    """Record the provider's answers to dial requests, by attempt id.

    Accepted: the call id, progress at least ACCEPTED, then any orphan event naming the call is
    applied. Refused: not a call; the attempt is `rejected_request` with the provider's words in
    `error`, its contact goes back to PENDING and its attempt is not counted. Transient: only the
    reason, in `error`. An attempt that already has an outcome still gets its call id. With
    `owner`, only the attempts that worker still holds are changed (the fencing of
    `store.workers`: another worker took over the others).
    """
    serialise(conn)
    ids = [attempt_id for attempt_id, _ in answers]
    live = _BY_ID(conn, ids) if owner is None else _BY_ID_HELD(conn, ids, owner=owner)
    accepted: list[LiveAttempt] = []
    refused: list[tuple[LiveAttempt, Refused]] = []
    for attempt_id, answer in answers:
        attempt = live.get(attempt_id)
        if attempt is None:
            continue
        if isinstance(answer, Accepted):
            attempt.provider_call_id = answer.call_id
            attempt.progress = Progress.furthest(attempt.progress, Progress.ACCEPTED)
            accepted.append(attempt)
        elif attempt.outcome is None:
            attempt.error = (
                f"{answer.code}: {answer.message}"
                if isinstance(answer, Refused)
                else f"transient: {answer.reason}"
            )
            if isinstance(answer, Refused):
                attempt.outcome = Outcome.REJECTED_REQUEST
                attempt.ended_at = now
                refused.append((attempt, answer))
    write_attempts(conn, [attempt for attempt in live.values() if attempt.changed])
    finished = give_back_refused(conn, [attempt for attempt, _ in refused], now)
    by_provider: dict[Provider, list[LiveAttempt]] = {}
    for attempt in accepted:
        by_provider.setdefault(attempt.provider, []).append(attempt)
    matched = [
        _match_orphans(
            conn,
            provider,
            [attempt.correlation_key for attempt in named],
            [attempt.provider_call_id for attempt in named if attempt.provider_call_id],
            now,
        )
        for provider, named in by_provider.items()
    ]
    return Applied.merge(Applied(finished, []), *matched)


def record_ambiguous(
    conn: Connection,
    attempt_ids: Sequence[int],
    reason: str,
    now: datetime,
    *,
    owner: int | None = None,
) -> None:
    """Note on live attempts that their dial request may or may not have placed a call (with
    `owner`, on those that worker still holds)."""
    serialise(conn)
    held = [attempts.c.worker_id == owner] if owner is not None else []
    for chunk in chunks(attempt_ids):
        conn.execute(
            update(attempts)
            .where(attempts.c.id.in_(chunk), attempts.c.outcome.is_(None), *held)
            .values(error=reason)
        )


def settle_stale_attempts(
    conn: Connection,
    campaign_id: int,
    started_before: datetime,
    now: datetime,
    held: Collection[int] = (),
) -> Applied:
    """Settle the campaign's live attempts sent before `started_before`: no final event came.

    Counted from `sent_at`, when the request may first have left: a claim still waiting for its
    turn (unsent) is its worker's to send or give back, never failed here. `held`: the calling
    worker's own claims not yet written, which a worker with a lease marks as sent a little ahead
    of their turn (`lease.Marker`): they are left alone too, so that a short call timeout on a
    busy machine never fails a call that was not placed.

    An attempt whose events showed the callee answering is DELIVERED (calling them again would ring
    someone who was reached); any other is FAILED, and its contact follows the retry policy: a
    retry is a new attempt.
    """
    serialise(conn)
    rows = conn.execute(
        select(*ATTEMPT_COLUMNS).where(
            attempts.c.campaign_id == campaign_id,
            attempts.c.outcome.is_(None),
            attempts.c.sent_at < started_before,
        )
    )
    stale = [attempt for attempt in map(LiveAttempt, rows) if attempt.id not in held]
    waited = max(0, round((now - started_before).total_seconds()))
    reason = f"no final event within {format_duration(waited)}"
    for attempt in stale:
        answered = attempt.progress.shows_answer
        attempt.outcome = Outcome.DELIVERED if answered else Outcome.FAILED
        attempt.provider_reason = f"{reason} after the callee answered" if answered else reason
        attempt.error = f"{attempt.error}; {reason}" if attempt.error else reason
        attempt.ended_at = now
    write_attempts(conn, stale)
    return Applied(settle_contacts(conn, stale, now), [])


def live_attempt_count(conn: Connection, campaign_id: int) -> int:
    """The campaign's attempts still waiting for an outcome."""
    return conn.execute(
        select(func.count()).where(
            attempts.c.campaign_id == campaign_id, attempts.c.outcome.is_(None)
        )
    ).scalar_one()


# --- The receiver's side --------------------------------------------------------------------------


def store_raw_events(
    conn: Connection,
    provider: Provider,
    bodies: Sequence[tuple[bytes, str | None]],
    now: datetime,
) -> list[int]:
    """Store webhook bodies (with their content type) exactly as received; their ids, in order."""
    if not bodies:
        return []
    rows = [
        {
            "provider": provider.value,
            "received_at": now,
            "body": body,
            "content_type": content_type,
            "status": EventStatus.RECEIVED,
        }
        for body, content_type in bodies
    ]
    result = conn.execute(insert(events).returning(events.c.id, sort_by_parameter_order=True), rows)
    return list(result.scalars())


def store_events(
    conn: Connection,
    provider: Provider,
    items: Sequence[tuple[bytes, str | None, WebhookResult]],
    now: datetime,
) -> Applied:
    """Store webhook bodies (content type, parsed) and apply them: the receiver's hot path.

    The same as `store_raw_events` then `apply_events`, but each event row is written once, with
    its final status, in one multi-row INSERT (no ids asked back: on SQLite, RETURNING them in
    order costs one statement per row). If this raises, the caller still has the bodies to
    `store_raw_events`.
    """
    if not items:
        return NOTHING
    serialise(conn)
    filed, applied = _apply(conn, provider, [result for _, _, result in items], now)
    rows = [
        (body, content_type, *how)
        for (body, content_type, _), how in zip(items, filed, strict=True)
    ]
    _INSERT_EVENT.execute(conn, rows, {"provider": provider.value, "received_at": now})
    return applied


def apply_events(
    conn: Connection,
    provider: Provider,
    items: Sequence[tuple[int, WebhookResult]],
    now: datetime,
) -> Applied:
    """Apply stored events (by event id, parsed) to their attempts, in the order given."""
    serialise(conn)
    filed, applied = _apply(conn, provider, [result for _, result in items], now)
    if items:
        conn.execute(
            _UPDATE_EVENT,
            [
                {
                    "e_id": event_id,
                    "e_status": status,
                    "e_key": key,
                    "e_call_id": call_id,
                    "e_attempt_id": attempt_id,
                }
                for (event_id, _), (status, key, call_id, attempt_id) in zip(
                    items, filed, strict=True
                )
            ],
        )
    return applied


def match_orphans(
    conn: Connection, provider: Provider, attempt_ids: Sequence[int], now: datetime
) -> Applied:
    """Apply the orphan events that name these attempts' correlation keys or call ids."""
    serialise(conn)
    keys: list[str] = []
    call_ids: list[str] = []
    for chunk in chunks(attempt_ids):
        for key, call_id in conn.execute(
            select(attempts.c.correlation_key, attempts.c.provider_call_id).where(
                attempts.c.id.in_(chunk)
            )
        ):
            keys.append(key)
            if call_id:
                call_ids.append(call_id)
    return _match_orphans(conn, provider, keys, call_ids, now)


def _match_orphans(
    conn: Connection, provider: Provider, keys: list[str], call_ids: list[str], now: datetime
) -> Applied:
    """Apply the orphan events that name these correlation keys or call ids."""
    found: dict[int, RowMapping] = {}
    for chunk in chunks(keys):
        rows = conn.execute(_ORPHANS_BY_KEY, {"keys": chunk})
        found.update((row.id, row._mapping) for row in rows if row.provider == provider.value)
    for chunk in chunks(call_ids):
        rows = conn.execute(_ORPHANS_BY_CALL_ID, {"call_ids": chunk, "provider": provider.value})
        found.update((row.id, row._mapping) for row in rows)
    if not found:
        return NOTHING
    adapter = adapter_for(provider)
    parsed = [
        (event_id, adapter.parse_webhook(row["body"], _headers(row["content_type"])))
        for event_id, row in sorted(found.items())
    ]
    return apply_events(conn, provider, parsed, now)


# Built once, like `AttemptLookup`'s statements. The status is a literal, not a bound value: the
# planners use the partial indexes on orphans only when the query says status = 'orphan' itself.
_ORPHAN_COLUMNS = (events.c.id, events.c.body, events.c.content_type, events.c.provider)
_IS_ORPHAN = events.c.status == literal_column(f"'{EventStatus.ORPHAN}'")
# The provider is compared in Python, not in SQL: given `provider = ?`, SQLite searches the
# (provider, provider_call_id) index instead of the key's, a scan of all the events.
_ORPHANS_BY_KEY = select(*_ORPHAN_COLUMNS).where(
    _IS_ORPHAN, events.c.correlation_key.in_(bindparam("keys", expanding=True))
)
_ORPHANS_BY_CALL_ID = select(*_ORPHAN_COLUMNS).where(
    _IS_ORPHAN,
    events.c.provider == bindparam("provider"),
    events.c.provider_call_id.in_(bindparam("call_ids", expanding=True)),
)

_INSERT_EVENT = BulkStatement.insert(
    events,
    ("body", "content_type", "status", "correlation_key", "provider_call_id", "attempt_id"),
    shared=("provider", "received_at"),
)

_UPDATE_EVENT = (
    update(events)
    .where(events.c.id == bindparam("e_id"))
    .values(
        status=bindparam("e_status"),
        correlation_key=bindparam("e_key"),
        provider_call_id=bindparam("e_call_id"),
        attempt_id=bindparam("e_attempt_id"),
    )
)

_BY_ID = AttemptLookup(attempts.c.id)
_BY_ID_HELD = AttemptLookup(attempts.c.id, attempts.c.worker_id == bindparam("owner"))
_BY_KEY = AttemptLookup(attempts.c.correlation_key)
_BY_CALL_ID = AttemptLookup(
    attempts.c.provider_call_id, attempts.c.provider == bindparam("provider")
)

# How an event is filed: (status, correlation key, call id, attempt id).
_Filed = tuple[str, str | None, str | None, int | None]


def _apply(
    conn: Connection, provider: Provider, results: Sequence[WebhookResult], now: datetime
) -> tuple[list[_Filed], Applied]:
    """Apply events to their attempts and contacts; how to file each event, and what it did."""
    calls = [result for result in results if isinstance(result, CallEvent)]
    by_key = _BY_KEY(conn, [e.correlation_key for e in calls if e.correlation_key])
    call_ids = [e.call_id for e in calls if e.call_id and e.correlation_key not in by_key]
    by_call = _BY_CALL_ID(conn, call_ids, provider=provider.value)
    # The same attempt reached by key and by call id must be one object.
    by_id = {attempt.id: attempt for attempt in by_key.values()}
    by_call = {call_id: by_id.setdefault(a.id, a) for call_id, a in by_call.items()}
    for keyed in by_key.values():
        if keyed.provider_call_id:
            by_call.setdefault(keyed.provider_call_id, keyed)
    filed: list[_Filed] = []
    follow_ups: list[FollowUpNeeded] = []
    replaying = (
        replaying_campaigns(conn, {a.campaign_id for a in by_id.values()})
        if any(e.no_key and not e.replayed for e in calls)
        else set()
    )
    replays: list[tuple[LiveAttempt, str]] = []
    for result in results:
        if isinstance(result, Unparseable):
            filed.append((EventStatus.UNPARSEABLE, None, None, None))
            continue
        key, call_id = result.correlation_key, result.call_id
        found = by_key.get(key) if key else None
        attempt = found or (by_call.get(call_id) if call_id else None)
        if attempt is None:
            filed.append((EventStatus.ORPHAN, key, call_id, None))
            continue
        if attempt.provider_call_id is None and call_id:
            attempt.provider_call_id = call_id
            by_call.setdefault(call_id, attempt)
        if (
            result.no_key
            and not result.replayed
            and attempt.campaign_id in replaying
            and attempt.outcome is None
        ):
            # No key after the first play: it is played again, and the call goes on.
            first = attempt.provider_reason != REPLAYING
            attempt.provider_reason = REPLAYING
            filed.append(
                (EventStatus.APPLIED if first else EventStatus.DUPLICATE, key, call_id, attempt.id)
            )
            if first and (call_id or attempt.provider_call_id):
                replays.append((attempt, call_id or attempt.provider_call_id or ""))
            continue
        changed = attempt.apply(result, now)
        status = EventStatus.APPLIED if changed else EventStatus.DUPLICATE
        filed.append((status, key, call_id, attempt.id))
        hang_up_id = call_id or attempt.provider_call_id
        if changed and result.follow_up is not None and hang_up_id:
            follow_ups.append(FollowUpNeeded(attempt.id, provider, hang_up_id, result.follow_up))
    if replays:
        messages = replay_messages(conn, [(a.campaign_id, a.contact_id) for a, _ in replays])
        for attempt, call_id in replays:
            message, key_timeout = messages[attempt.contact_id]
            follow_ups.append(
                FollowUpNeeded(attempt.id, provider, call_id, FollowUp.REPLAY, message, key_timeout)
            )
    touched = [attempt for attempt in by_id.values() if attempt.changed]
    write_attempts(conn, touched)
    pressed = [
        (a.campaign_id, a.contact_id, a.dtmf) for a in touched if a.dtmf and a.dtmf != a.dtmf_before
    ]
    opted_out = record_responses(conn, pressed, now) if pressed else []
    return filed, Applied(settle_contacts(conn, touched, now), follow_ups, opted_out)


def _headers(content_type: str | None) -> dict[str, str]:
    return {"content-type": content_type} if content_type else {}


__all__ = [
    "Applied",
    "AttemptFinished",
    "EventStatus",
    "FollowUpNeeded",
    "apply_events",
    "live_attempt_count",
    "match_orphans",
    "record_ambiguous",
    "record_dial_answers",
    "settle_stale_attempts",
    "store_events",
    "store_raw_events",
]
