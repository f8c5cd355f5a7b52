"""A contact's next state once its attempt has an outcome (or was refused, placing no call)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, exists, func, or_, select, update

from ...campaigns import RetryPolicy
from ...db.schema import attempts, campaigns, contacts, suppressions
from ...model import CampaignStatus, ContactState, Outcome
from ...notifications import notify_contacts
from ...retry import decide
from ._bulk import BulkStatement
from ._results import AttemptFinished
from ._rows import LiveAttempt, chunks


@dataclass(frozen=True)
class _Contact:
    id: int
    campaign_id: int
    state: ContactState
    attempts: int
    last_outcome: Outcome | None
    latest_attempt: int  # the highest attempt_number the contact has
    suppressed: bool  # its number is on the do-not-call list (global or its campaign's)
    policy: RetryPolicy  # its campaign's
    campaign_cancelled: bool
    notifies: bool  # its campaign has a notify URL

    def pending_or_not(self) -> ContactState:
        """PENDING, unless the number was suppressed or the campaign cancelled during the call."""
        if self.suppressed:
            return ContactState.SUPPRESSED
        return ContactState.CANCELLED if self.campaign_cancelled else ContactState.PENDING


def settle_contacts(
    conn: Connection, settled: Sequence[LiveAttempt], now: datetime
) -> list[AttemptFinished]:
    """Move the contacts of attempts that got (or corrected) their outcome to their next state.

    A new outcome: `retry.decide`, if the contact is still in progress with this attempt as its
    latest (a contact cancelled or suppressed meanwhile keeps its state). A `no_answer` corrected
    to `delivered`: the contact becomes delivered if it was waiting for a retry or left
    `no_answer` by this attempt. A contact made final whose campaign has a notify URL gets its
    notification in this transaction. Returns the attempts that got their first outcome.
    """
    new = [a for a in settled if a.outcome_before is None and a.outcome is not None]
    corrected = [
        a
        for a in settled
        if a.outcome_before is Outcome.NO_ANSWER and a.outcome is Outcome.DELIVERED
    ]
    if not new and not corrected:
        return []
    people = _lock_contacts(conn, {a.contact_id for a in [*new, *corrected]})
    changes: list[dict[str, Any]] = []
    for attempt in new:
        assert attempt.outcome is not None
        person = people[attempt.contact_id]
        if (
            person.state is not ContactState.IN_PROGRESS
            or person.latest_attempt > attempt.attempt_number
        ):
            continue
        decision = decide(person.policy, attempt.outcome, person.attempts, now)
        state = decision.state
        if state is ContactState.PENDING:
            state = person.pending_or_not()
        changes.append(_contact_row(person, state, decision.next_attempt_at, attempt.outcome, now))
    for attempt in corrected:
        person = people[attempt.contact_id]
        waiting = person.state is ContactState.PENDING and person.last_outcome is Outcome.NO_ANSWER
        if person.latest_attempt == attempt.attempt_number and (
            waiting or person.state is ContactState.NO_ANSWER
        ):
            changes.append(
                _contact_row(person, ContactState.DELIVERED, None, Outcome.DELIVERED, now)
            )
    if changes:
        _UPDATE_CONTACT.execute(
            conn,
            [(c["c_id"], c["c_state"], c["c_next"], c["c_outcome"]) for c in changes],
            {"c_updated_at": now},
        )
        _notify_final(conn, people, changes, now)
    return [
        AttemptFinished(a.id, a.contact_id, a.campaign_id, a.outcome)
        for a in new
        if a.outcome is not None
    ]


def give_back_refused(
    conn: Connection, refused: Sequence[LiveAttempt], now: datetime
) -> list[AttemptFinished]:
    """A refused request placed no call: the contact is due again and the attempt is not counted."""
    if not refused:
        return []
    people = _lock_contacts(conn, {a.contact_id for a in refused})
    changes: list[dict[str, Any]] = []
    for attempt in refused:
        person = people[attempt.contact_id]
        state = person.state
        if state is ContactState.IN_PROGRESS and person.latest_attempt == attempt.attempt_number:
            state = person.pending_or_not()
        changes.append(
            {
                "c_id": person.id,
                "c_state": state.value,
                "c_attempts": max(0, person.attempts - 1),
                "c_updated_at": now,
            }
        )
    conn.execute(
        update(contacts)
        .where(contacts.c.id == bindparam("c_id"))
        .values(
            state=bindparam("c_state"),
            attempts=bindparam("c_attempts"),
            updated_at=bindparam("c_updated_at"),
        ),
        changes,
    )
    _notify_final(conn, people, changes, now)
    return [
        AttemptFinished(a.id, a.contact_id, a.campaign_id, Outcome.REJECTED_REQUEST)
        for a in refused
    ]


_UPDATE_CONTACT = BulkStatement(
    update(contacts)
    .where(contacts.c.id == bindparam("c_id"))
    .values(
        state=bindparam("c_state"),
        next_attempt_at=bindparam("c_next"),
        last_outcome=bindparam("c_outcome"),
        updated_at=bindparam("c_updated_at"),
    ),
    ("c_id", "c_state", "c_next", "c_outcome"),
)


def _notify_final(
    conn: Connection, people: dict[int, _Contact], changes: list[dict[str, Any]], now: datetime
) -> None:
    final = [
        change["c_id"]
        for change in changes
        if people[change["c_id"]].notifies and ContactState(change["c_state"]).is_final
    ]
    if final:
        notify_contacts(conn, final, now)


def _contact_row(
    person: _Contact, state: ContactState, next_at: datetime | None, outcome: Outcome, now: datetime
) -> dict[str, Any]:
    return {
        "c_id": person.id,
        "c_state": state.value,
        "c_next": next_at,
        "c_outcome": outcome.value,
        "c_updated_at": now,
    }


# What deciding contacts' next state needs, in one query; built once (see `AttemptLookup`).
_LOCK_CONTACTS = (
    select(
        contacts.c.id,
        contacts.c.campaign_id,
        contacts.c.state,
        contacts.c.attempts,
        contacts.c.last_outcome,
        select(func.max(attempts.c.attempt_number))
        .where(attempts.c.contact_id == contacts.c.id)
        .scalar_subquery(),
        exists().where(
            suppressions.c.phone == contacts.c.phone,
            or_(
                suppressions.c.campaign_id.is_(None),
                suppressions.c.campaign_id == contacts.c.campaign_id,
            ),
        ),
        campaigns.c.notify_url,
        campaigns.c.status,
        campaigns.c.max_attempts,
        campaigns.c.retry_delay_busy,
        campaigns.c.retry_delay_no_answer,
        campaigns.c.retry_delay_failed,
    )
    .join(campaigns, campaigns.c.id == contacts.c.campaign_id)
    .where(contacts.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(contacts.c.id)
    .with_for_update(of=contacts)
)


def _lock_contacts(conn: Connection, contact_ids: set[int]) -> dict[int, _Contact]:
    """The contacts with what deciding their next state needs; locked (PostgreSQL) in id order,
    so that concurrent writers cannot deadlock."""
    policies: dict[int, RetryPolicy] = {}
    found: dict[int, _Contact] = {}
    for chunk in chunks(sorted(contact_ids)):
        for row in conn.execute(_LOCK_CONTACTS, {"ids": chunk}):
            (id_, campaign_id, state, made, last, latest, on_list, url, status, *policy) = row
            if campaign_id not in policies:
                busy, no_answer, failed = policy[1:]
                delays = {Outcome.BUSY: busy, Outcome.NO_ANSWER: no_answer, Outcome.FAILED: failed}
                policies[campaign_id] = RetryPolicy(max_attempts=policy[0], delays=delays)
            found[id_] = _Contact(
                id=id_,
                campaign_id=campaign_id,
                state=ContactState(state),
                attempts=made,
                last_outcome=Outcome(last) if last else None,
                latest_attempt=latest or 0,
                suppressed=bool(on_list),
                policy=policies[campaign_id],
                campaign_cancelled=status == CampaignStatus.CANCELLED.value,
                notifies=url is not None,
            )
    return found
