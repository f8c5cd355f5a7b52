"""campaigner.store.attempts on SQLite and PostgreSQL: dial answers, events in any order, orphans,
stale attempts, and each contact's next state."""

from __future__ import annotations

from datetime import timedelta

import pytest
from attempts_helpers import (
    NOW,
    attempt,
    contact,
    enablex_play,
    enablex_state,
    event_rows,
    event_statuses,
    fractel_notification,
    later,
    make_campaign,
    make_contact,
    start_attempt,
    webex_receipt,
)
from sqlalchemy import event, update

from campaigner.db import Database
from campaigner.db.schema import campaigns, contacts
from campaigner.model import CampaignStatus, ContactState, Outcome, Provider
from campaigner.providers import Accepted, FollowUp, Progress, Refused, Transient, adapter_for
from campaigner.store.attempts import (
    Applied,
    AttemptFinished,
    FollowUpNeeded,
    apply_events,
    live_attempt_count,
    record_ambiguous,
    record_dial_answers,
    settle_stale_attempts,
    store_raw_events,
)
from campaigner.store.suppressions import add_suppressions

VOICE_ID = "a8e3607c-46a1-43f6-b0be-f3ead722a6b1"


def deliver(database: Database, provider: Provider, *bodies: bytes, seconds: float = 5) -> Applied:
    """What the receiver does with a batch: store the raw bodies, then parse and apply them."""
    adapter = adapter_for(provider)
    with database.write() as connection:
        ids = store_raw_events(
            connection, provider, [(body, "application/json") for body in bodies], later(seconds)
        )
        parsed = [
            (event_id, adapter.parse_webhook(body, {}))
            for event_id, body in zip(ids, bodies, strict=True)
        ]
        return apply_events(connection, provider, parsed, later(seconds))


def accept(database: Database, attempt_id: int, call_id: str) -> Applied:
    with database.write() as connection:
        return record_dial_answers(connection, [(attempt_id, Accepted(call_id))], later(1))


@pytest.fixture
def dialled(database: Database) -> tuple[int, int, str]:
    """An EnableX contact with its first attempt placed and accepted: (contact, attempt, key)."""
    contact_id = make_contact(database, make_campaign(database))
    attempt_id, key = start_attempt(database, contact_id)
    accept(database, attempt_id, VOICE_ID)
    return contact_id, attempt_id, key


def test_a_delivered_call_ends_its_contact_and_asks_for_the_hang_up(
    database: Database, dialled: tuple[int, int, str]
) -> None:
    contact_id, attempt_id, _ = dialled
    applied = deliver(
        database,
        Provider.ENABLEX,
        enablex_state(VOICE_ID, "ringing"),
        enablex_state(VOICE_ID, "connected"),
        enablex_play(VOICE_ID, "playfinished", digit=1),
    )
    row = attempt(database, attempt_id)
    assert (row["outcome"], row["progress"], row["dtmf"]) == ("delivered", "played", "1")
    assert row["answered_at"] is not None
    assert row["ended_at"] is not None
    assert applied.finished == [
        AttemptFinished(attempt_id, contact_id, row["campaign_id"], Outcome.DELIVERED)
    ]
    assert applied.follow_ups == [
        FollowUpNeeded(attempt_id, Provider.ENABLEX, VOICE_ID, FollowUp.HANG_UP)
    ]
    person = contact(database, contact_id)
    assert (person["state"], person["last_outcome"], person["next_attempt_at"]) == (
        "delivered",
        "delivered",
        None,
    )
    assert event_statuses(database) == ["applied"] * 3
    assert {row["attempt_id"] for row in event_rows(database)} == {attempt_id}


def test_a_duplicate_changes_nothing_and_asks_for_nothing(
    database: Database, dialled: tuple[int, int, str]
) -> None:
    _, attempt_id, _ = dialled
    body = enablex_play(VOICE_ID, "playfinished")
    deliver(database, Provider.ENABLEX, enablex_state(VOICE_ID, "connected"), body)
    before = attempt(database, attempt_id)
    again = deliver(database, Provider.ENABLEX, body, seconds=30)
    assert again == Applied([], [])
    assert attempt(database, attempt_id) == before
    assert event_statuses(database) == ["applied", "applied", "duplicate"]


def test_a_late_ringing_never_undoes_delivered(
    database: Database, dialled: tuple[int, int, str]
) -> None:
    _, attempt_id, _ = dialled
    deliver(
        database,
        Provider.ENABLEX,
        enablex_state(VOICE_ID, "connected"),
        enablex_play(VOICE_ID, "playfinished"),
    )
    deliver(database, Provider.ENABLEX, enablex_state(VOICE_ID, "ringing"), seconds=60)
    row = attempt(database, attempt_id)
    assert (row["outcome"], row["progress"]) == ("delivered", "played")
    assert event_statuses(database)[-1] == "duplicate"


def test_an_event_updates_only_the_columns_it_changes(
    database: Database, dialled: tuple[int, int, str]
) -> None:
    """A ringing event moves the progress on and leaves the indexed call id and outcome out of
    the UPDATE (SQLite rewrites the index entries of every column an UPDATE sets)."""
    _, attempt_id, _ = dialled
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        deliver(database, Provider.ENABLEX, enablex_state(VOICE_ID, "ringing"))
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
    updates = [s for s in statements if s.lstrip().upper().startswith("UPDATE ATTEMPTS")]
    assert len(updates) == 1
    assigned = updates[0].upper().partition(" SET ")[2].partition(" WHERE ")[0]
    assert "PROGRESS" in assigned
    assert "PROVIDER_CALL_ID" not in assigned
    assert "OUTCOME" not in assigned
    row = attempt(database, attempt_id)
    assert (row["progress"], row["provider_call_id"], row["outcome"]) == (
        "ringing",
        VOICE_ID,
        None,
    )


# Events in the order they arrive -> the attempt's outcome and the contact's state.
REORDERINGS = [
    pytest.param(
        ["connected", "ringing", "playfinished"], "delivered", "delivered", id="late-ring"
    ),
    pytest.param(["playfinished", "connected", "ringing"], "delivered", "delivered", id="reversed"),
    pytest.param(["disconnected", "connected"], "delivered", "delivered", id="hangup-first"),
    pytest.param(["disconnected", "ringing"], "no_answer", "pending", id="rang-out"),
    pytest.param(["busy", "ringing"], "busy", "pending", id="busy"),
    pytest.param(["disconnected", "playfailed", "connected"], "delivered", "delivered", id="mixed"),
]


def _enablex_body(name: str) -> bytes:
    if name == "busy":
        return enablex_state(VOICE_ID, "disconnected", disconnect_reason="User Busy")
    if name.startswith("play"):
        return enablex_play(VOICE_ID, name.removeprefix("play").replace("finished", "playfinished"))
    return enablex_state(VOICE_ID, name, disconnect_reason="Normal Clearing")


@pytest.mark.parametrize(("order", "outcome", "state"), REORDERINGS)
@pytest.mark.parametrize("batched", [True, False], ids=["one-batch", "one-by-one"])
def test_events_in_any_order_end_in_the_right_outcome(
    database: Database,
    dialled: tuple[int, int, str],
    order: list[str],
    outcome: str,
    state: str,
    batched: bool,
) -> None:
    contact_id, attempt_id, _ = dialled
    bodies = [_enablex_body(name) for name in order]
    if batched:
        deliver(database, Provider.ENABLEX, *bodies)
    else:
        for seconds, body in enumerate(bodies, start=5):
            deliver(database, Provider.ENABLEX, body, seconds=seconds)
    assert attempt(database, attempt_id)["outcome"] == outcome
    assert contact(database, contact_id)["state"] == state


def test_no_answer_corrected_to_delivered_cancels_the_scheduled_retry(
    database: Database, dialled: tuple[int, int, str]
) -> None:
    contact_id, attempt_id, _ = dialled
    first = deliver(database, Provider.ENABLEX, enablex_state(VOICE_ID, "disconnected"))
    assert [item.outcome for item in first.finished] == [Outcome.NO_ANSWER]
    waiting = contact(database, contact_id)
    assert (waiting["state"], waiting["last_outcome"]) == ("pending", "no_answer")
    assert waiting["next_attempt_at"] == later(5) + timedelta(hours=1)

    correction = deliver(
        database, Provider.ENABLEX, enablex_state(VOICE_ID, "connected"), seconds=6
    )
    assert correction.finished == []  # its slot was freed by the first outcome
    assert attempt(database, attempt_id)["outcome"] == "delivered"
    person = contact(database, contact_id)
    assert (person["state"], person["last_outcome"], person["next_attempt_at"]) == (
        "delivered",
        "delivered",
        None,
    )


def test_an_orphan_is_applied_when_its_call_id_is_recorded(database: Database) -> None:
    """Fractel names a call only by its uid: events that beat the dial answer wait for it."""
    contact_id = make_contact(database, make_campaign(database, Provider.FRACTEL))
    attempt_id, _ = start_attempt(database, contact_id, Provider.FRACTEL)
    early = deliver(
        database,
        Provider.FRACTEL,
        fractel_notification("call-77", "BEGIN"),
        fractel_notification("call-77", "END", "ANSWERED"),
    )
    assert early == Applied([], [])
    assert event_statuses(database) == ["orphan", "orphan"]
    assert [row["provider_call_id"] for row in event_rows(database)] == ["call-77", "call-77"]
    assert attempt(database, attempt_id)["outcome"] is None

    applied = accept(database, attempt_id, "call-77")
    assert [(item.attempt_id, item.outcome) for item in applied.finished] == [
        (attempt_id, Outcome.DELIVERED)
    ]
    # BEGIN says no more than the dial answer did (accepted): it changed nothing.
    assert event_statuses(database) == ["duplicate", "applied"]
    assert contact(database, contact_id)["state"] == "delivered"


def test_fractel_events_are_matched_by_uid(database: Database) -> None:
    contact_id = make_contact(database, make_campaign(database, Provider.FRACTEL))
    attempt_id, _ = start_attempt(database, contact_id, Provider.FRACTEL)
    accept(database, attempt_id, "call-9")
    deliver(
        database,
        Provider.FRACTEL,
        fractel_notification("call-9", "BEGIN"),
        fractel_notification("call-9", "END", "BUSY"),
        fractel_notification("call-other", "END", "ANSWERED"),
    )
    row = attempt(database, attempt_id)
    assert (row["outcome"], row["provider_reason"]) == ("busy", "BUSY")
    assert event_statuses(database) == ["duplicate", "applied", "orphan"]


def test_an_event_carrying_our_key_settles_an_attempt_whose_dial_answer_never_came(
    database: Database,
) -> None:
    """The ambiguous case: the request timed out, but the call was placed and reports back."""
    contact_id = make_contact(database, make_campaign(database, Provider.WEBEX))
    attempt_id, key = start_attempt(database, contact_id, Provider.WEBEX)
    with database.write() as connection:
        record_ambiguous(connection, [attempt_id], "read timeout: the call may exist", later(1))
        assert live_attempt_count(connection, attempt(database, attempt_id)["campaign_id"]) == 1
    assert attempt(database, attempt_id)["error"] == "read timeout: the call may exist"
    deliver(
        database,
        Provider.WEBEX,
        webex_receipt("msg-1", "ANSWERED", key),
        webex_receipt("msg-1", "RELEASED", key),
    )
    row = attempt(database, attempt_id)
    assert (row["outcome"], row["provider_call_id"], row["progress"]) == (
        "delivered",
        "msg-1",
        "ended",
    )


@pytest.mark.parametrize(
    ("attempts_made", "max_attempts", "state", "retry_in"),
    [
        pytest.param(1, 3, "pending", timedelta(minutes=10), id="retried"),
        pytest.param(3, 3, "busy", None, id="last-attempt"),
    ],
)
def test_the_contact_follows_the_retry_policy(
    database: Database,
    attempts_made: int,
    max_attempts: int,
    state: str,
    retry_in: timedelta | None,
) -> None:
    contact_id = make_contact(database, make_campaign(database, max_attempts=max_attempts))
    for number in range(attempts_made):
        attempt_id, _ = start_attempt(database, contact_id)
        accept(database, attempt_id, f"voice-{number}")
        deliver(
            database,
            Provider.ENABLEX,
            enablex_state(f"voice-{number}", "disconnected", disconnect_reason="User Busy"),
        )
    person = contact(database, contact_id)
    assert (person["state"], person["last_outcome"], person["attempts"]) == (
        state,
        "busy",
        attempts_made,
    )
    assert person["next_attempt_at"] == (later(5) + retry_in if retry_in else None)


def test_a_number_suppressed_during_its_call_is_not_retried(
    database: Database, dialled: tuple[int, int, str]
) -> None:
    contact_id, _, _ = dialled
    with database.write() as connection:
        add_suppressions(
            connection, {contact(database, contact_id)["phone"]: "asked"}, None, "manual"
        )
    deliver(database, Provider.ENABLEX, enablex_state(VOICE_ID, "disconnected"))
    assert contact(database, contact_id)["state"] == "suppressed"


def test_a_contact_of_a_cancelled_campaign_is_not_retried(
    database: Database, dialled: tuple[int, int, str]
) -> None:
    contact_id, attempt_id, _ = dialled
    with database.write() as connection:
        connection.execute(update(campaigns).values(status=CampaignStatus.CANCELLED.value))
    deliver(database, Provider.ENABLEX, enablex_state(VOICE_ID, "failed"))
    assert attempt(database, attempt_id)["outcome"] == "failed"
    assert contact(database, contact_id)["state"] == "cancelled"


def test_a_contact_no_longer_in_progress_keeps_its_state(
    database: Database, dialled: tuple[int, int, str]
) -> None:
    contact_id, attempt_id, _ = dialled
    with database.write() as connection:
        connection.execute(
            update(contacts)
            .where(contacts.c.id == contact_id)
            .values(state=ContactState.CANCELLED.value)
        )
    applied = deliver(
        database,
        Provider.ENABLEX,
        enablex_state(VOICE_ID, "connected"),
        enablex_play(VOICE_ID, "playfinished"),
    )
    assert [item.attempt_id for item in applied.finished] == [attempt_id]
    assert contact(database, contact_id)["state"] == "cancelled"


def test_a_late_event_of_an_earlier_attempt_leaves_the_contact_alone(database: Database) -> None:
    contact_id = make_contact(database, make_campaign(database))
    first, _ = start_attempt(database, contact_id)
    accept(database, first, "voice-1")
    with database.write() as connection:
        settle_stale_attempts(
            connection, contact(database, contact_id)["campaign_id"], later(2), later(600)
        )
    second, _ = start_attempt(database, contact_id, requested_at=later(700))
    accept(database, second, "voice-2")
    deliver(database, Provider.ENABLEX, enablex_state("voice-1", "disconnected"), seconds=800)
    assert attempt(database, first)["outcome"] == "failed"  # the first outcome stays
    person = contact(database, contact_id)
    assert (person["state"], person["attempts"]) == ("in_progress", 2)


def test_a_refused_request_gives_the_attempt_back(database: Database) -> None:
    contact_id = make_contact(database, make_campaign(database))
    attempt_id, _ = start_attempt(database, contact_id)
    with database.write() as connection:
        applied = record_dial_answers(
            connection, [(attempt_id, Refused("6118", "phone number not found", 404))], later(1)
        )
    row = attempt(database, attempt_id)
    assert (row["outcome"], row["error"]) == ("rejected_request", "6118: phone number not found")
    assert [item.outcome for item in applied.finished] == [Outcome.REJECTED_REQUEST]
    person = contact(database, contact_id)
    assert (person["state"], person["attempts"], person["next_attempt_at"]) == ("pending", 0, None)


def test_a_transient_answer_only_notes_the_reason(database: Database) -> None:
    contact_id = make_contact(database, make_campaign(database))
    attempt_id, _ = start_attempt(database, contact_id)
    with database.write() as connection:
        applied = record_dial_answers(
            connection, [(attempt_id, Transient("HTTP 503", retry_after=2.0))], later(1)
        )
    row = attempt(database, attempt_id)
    assert applied == Applied([], [])
    assert (row["outcome"], row["progress"], row["error"]) == (
        None,
        "requested",
        "transient: HTTP 503",
    )
    assert contact(database, contact_id)["attempts"] == 1


def test_stale_attempts_are_failed_and_retried_by_the_policy(database: Database) -> None:
    campaign_id = make_campaign(database)
    old = make_contact(database, campaign_id, "+12025550101")
    recent = make_contact(database, campaign_id, "+12025550102")
    stale_id, _ = start_attempt(database, old, requested_at=NOW)
    live_id, _ = start_attempt(database, recent, requested_at=later(400))
    with database.write() as connection:
        applied = settle_stale_attempts(connection, campaign_id, later(300), later(600))
        assert live_attempt_count(connection, campaign_id) == 1
    assert [item.attempt_id for item in applied.finished] == [stale_id]
    row = attempt(database, stale_id)
    assert (row["outcome"], row["provider_reason"], row["error"]) == (
        "failed",
        "no final event within 5m",
        "no final event within 5m",
    )
    assert contact(database, old)["next_attempt_at"] == later(600) + timedelta(minutes=30)
    assert attempt(database, live_id)["outcome"] is None


def test_a_claim_its_worker_still_holds_unsent_is_not_failed(database: Database) -> None:
    campaign_id = make_campaign(database)
    held = make_contact(database, campaign_id, "+12025550101")
    sent = make_contact(database, campaign_id, "+12025550102")
    held_id, _ = start_attempt(database, held, requested_at=NOW)
    sent_id, _ = start_attempt(database, sent, requested_at=NOW)
    with database.write() as connection:
        applied = settle_stale_attempts(
            connection, campaign_id, later(300), later(600), held=frozenset({held_id})
        )
    assert [item.attempt_id for item in applied.finished] == [sent_id]
    assert attempt(database, held_id)["outcome"] is None
    assert contact(database, held)["attempts"] == 1


def test_a_stale_attempt_that_was_answered_is_delivered(database: Database) -> None:
    campaign_id = make_campaign(database)
    contact_id = make_contact(database, campaign_id)
    attempt_id, _ = start_attempt(database, contact_id, requested_at=NOW)
    accept(database, attempt_id, VOICE_ID)
    deliver(database, Provider.ENABLEX, enablex_state(VOICE_ID, "connected"))
    with database.write() as connection:
        applied = settle_stale_attempts(connection, campaign_id, later(300), later(600))
    assert [item.outcome for item in applied.finished] == [Outcome.DELIVERED]
    row = attempt(database, attempt_id)
    assert (row["outcome"], row["provider_reason"]) == (
        "delivered",
        "no final event within 5m after the callee answered",
    )
    assert contact(database, contact_id)["state"] == "delivered"


def test_an_unparseable_body_is_kept_as_received(
    database: Database, dialled: tuple[int, int, str]
) -> None:
    body = b"\x00not json{"
    deliver(database, Provider.ENABLEX, body)
    (row,) = event_rows(database)
    assert (row["status"], bytes(row["body"]), row["attempt_id"]) == ("unparseable", body, None)


@pytest.mark.parametrize(
    ("statuses", "outcome"),
    [
        pytest.param(["OFFERED", "ACCEPTED", "RELEASED"], "no_answer", id="rang-out"),
        pytest.param(["RELEASED", "ANSWERED"], "delivered", id="answer-after-release"),
        pytest.param(["ANSWERED", "DISCONNECTED", "OFFERED"], "delivered", id="late-offer"),
    ],
)
def test_webex_receipts(database: Database, statuses: list[str], outcome: str) -> None:
    contact_id = make_contact(database, make_campaign(database, Provider.WEBEX))
    attempt_id, key = start_attempt(database, contact_id, Provider.WEBEX)
    accept(database, attempt_id, "msg-5")
    for seconds, status in enumerate(statuses, start=5):
        deliver(database, Provider.WEBEX, webex_receipt("msg-5", status, key), seconds=seconds)
    row = attempt(database, attempt_id)
    assert row["outcome"] == outcome
    assert row["progress"] == Progress.ENDED.value
