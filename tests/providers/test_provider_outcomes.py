"""PROVIDERS.md's "Our outcomes" table, played as event sequences, and `settle_outcome` itself.

Each scenario feeds webhook bodies to the provider's adapter in order, as the receiver will:
settle the outcome with what the attempt has so far, then move its progress forward.
"""

from __future__ import annotations

import json

import pytest

from campaigner.model import Outcome, Provider
from campaigner.providers import CallEvent, EventKind, Progress, adapter_for, settle_outcome

Body = dict[str, object]


def _replay(provider: Provider, bodies: list[Body]) -> tuple[Outcome | None, Progress]:
    adapter = adapter_for(provider)
    outcome, progress = None, Progress.REQUESTED
    for body in bodies:
        event = adapter.parse_webhook(json.dumps(body).encode(), {})
        assert isinstance(event, CallEvent), body
        outcome = settle_outcome(outcome, progress, event)
        progress = Progress.furthest(progress, event.progress)
    return outcome, progress


def ex(state: str, reason: str | None = None) -> Body:
    body: Body = {"voice_id": "v-1", "state": state}
    if reason:
        body["disconnect_reason"] = reason
    return body


def ex_play(playstate: str) -> Body:
    return {"voice_id": "v-1", "playstate": playstate}


def fr(status: str, disposition: str | None = None) -> Body:
    body: Body = {"uid": "u-1", "direction": "OUTBOUND", "type": "VOICE", "status": status}
    if disposition:
        body["disposition"] = disposition
    return body


def wx(status: str) -> Body:
    info = {"deliveryStatus": status, "deliveryChannel": "voice"}
    return {"deliveryInfoNotification": {"deliveryInfo": info, "transid": "m-1"}}


ENABLEX, FRACTEL, WEBEX = Provider.ENABLEX, Provider.FRACTEL, Provider.WEBEX
HANG_UP = ex("disconnected", "Normal Clearing")

SCENARIOS: list[tuple[Provider, list[Body], Outcome, Progress]] = [
    # EnableX: connected then playfinished (or disconnected after connected) is delivered
    (
        ENABLEX,
        [ex("ringing"), ex("connected"), ex_play("initiated"), ex_play("playfinished"), HANG_UP],
        Outcome.DELIVERED,
        Progress.ENDED,
    ),
    (ENABLEX, [ex("ringing"), ex("connected"), HANG_UP], Outcome.DELIVERED, Progress.ENDED),
    (ENABLEX, [ex("connected"), ex_play("digitcollected")], Outcome.DELIVERED, Progress.PLAYED),
    (ENABLEX, [ex("connected"), ex_play("menutimeout")], Outcome.DELIVERED, Progress.PLAYED),
    # disconnected with "User Busy" is busy; disconnected never connected is no answer
    (ENABLEX, [ex("ringing"), ex("disconnected", "User Busy")], Outcome.BUSY, Progress.ENDED),
    (ENABLEX, [ex("ringing"), HANG_UP], Outcome.NO_ANSWER, Progress.ENDED),
    (ENABLEX, [ex("disconnected")], Outcome.NO_ANSWER, Progress.ENDED),
    # state failed, playstate failed or error
    (ENABLEX, [ex("ringing"), ex("failed")], Outcome.FAILED, Progress.ENDED),
    (ENABLEX, [ex("connected"), ex_play("failed"), HANG_UP], Outcome.FAILED, Progress.ENDED),
    (ENABLEX, [ex("connected"), ex_play("error"), HANG_UP], Outcome.FAILED, Progress.ENDED),
    # late, duplicated and reordered events
    (ENABLEX, [HANG_UP, ex("connected")], Outcome.DELIVERED, Progress.ENDED),
    (ENABLEX, [HANG_UP, ex_play("playfinished")], Outcome.DELIVERED, Progress.ENDED),
    (ENABLEX, [ex_play("playfinished"), ex("ringing")], Outcome.DELIVERED, Progress.PLAYED),
    (
        ENABLEX,
        [ex("connected"), ex("connected"), HANG_UP, HANG_UP, ex("ringing")],
        Outcome.DELIVERED,
        Progress.ENDED,
    ),
    (ENABLEX, [ex("disconnected", "User Busy"), HANG_UP], Outcome.BUSY, Progress.ENDED),
    # Fractel: one END notification with the disposition
    (FRACTEL, [fr("BEGIN"), fr("END", "ANSWERED")], Outcome.DELIVERED, Progress.ENDED),
    (FRACTEL, [fr("BEGIN"), fr("END", "BUSY")], Outcome.BUSY, Progress.ENDED),
    (FRACTEL, [fr("BEGIN"), fr("END", "REJECTED")], Outcome.BUSY, Progress.ENDED),
    (FRACTEL, [fr("BEGIN"), fr("END", "NO_ANSWER")], Outcome.NO_ANSWER, Progress.ENDED),
    (FRACTEL, [fr("BEGIN"), fr("END", "CANCEL")], Outcome.NO_ANSWER, Progress.ENDED),
    (FRACTEL, [fr("BEGIN"), fr("END", "INVALID")], Outcome.INVALID_NUMBER, Progress.ENDED),
    (FRACTEL, [fr("BEGIN"), fr("END", "FAILED")], Outcome.FAILED, Progress.ENDED),
    (FRACTEL, [fr("BEGIN"), fr("END", "FAILED:503")], Outcome.FAILED, Progress.ENDED),
    (FRACTEL, [fr("END", "ANSWERED"), fr("BEGIN")], Outcome.DELIVERED, Progress.ENDED),
    # Webex Connect: ANSWERED is delivered; RELEASED / DISCONNECTED without it, or EXPIRED, is not
    (
        WEBEX,
        [wx("OFFERED"), wx("ACCEPTED"), wx("ANSWERED"), wx("DISCONNECTED")],
        Outcome.DELIVERED,
        Progress.ENDED,
    ),
    (WEBEX, [wx("OFFERED"), wx("ACCEPTED"), wx("RELEASED")], Outcome.NO_ANSWER, Progress.ENDED),
    (WEBEX, [wx("OFFERED"), wx("DISCONNECTED")], Outcome.NO_ANSWER, Progress.ENDED),
    (WEBEX, [wx("OFFERED"), wx("EXPIRED")], Outcome.NO_ANSWER, Progress.ENDED),
    (WEBEX, [wx("OFFERED"), wx("REJECTED")], Outcome.BUSY, Progress.ENDED),
    (WEBEX, [wx("OFFERED"), wx("DROPPED")], Outcome.FAILED, Progress.ENDED),
    (WEBEX, [wx("DISCONNECTED"), wx("ANSWERED")], Outcome.DELIVERED, Progress.ENDED),
    (WEBEX, [wx("ANSWERED"), wx("ACCEPTED"), wx("OFFERED")], Outcome.DELIVERED, Progress.ANSWERED),
]


@pytest.mark.parametrize(("provider", "bodies", "outcome", "progress"), SCENARIOS)
def test_outcome_table(
    provider: Provider, bodies: list[Body], outcome: Outcome, progress: Progress
) -> None:
    assert _replay(provider, bodies) == (outcome, progress)


def _final(outcome: Outcome | None, progress: Progress | None = Progress.ENDED) -> CallEvent:
    return CallEvent(EventKind.FINAL, "c", progress=progress, outcome=outcome)


def _progress(progress: Progress) -> CallEvent:
    return CallEvent(EventKind.PROGRESS, "c", progress=progress)


@pytest.mark.parametrize(
    ("current", "furthest", "event", "expected"),
    [
        (None, Progress.RINGING, _progress(Progress.ANSWERED), None),
        (None, Progress.RINGING, _final(Outcome.BUSY), Outcome.BUSY),
        (None, Progress.RINGING, _final(None), Outcome.NO_ANSWER),
        (None, Progress.ANSWERED, _final(None), Outcome.DELIVERED),
        (None, Progress.PLAYING, _final(None), Outcome.DELIVERED),
        (None, Progress.PLAYED, _final(None), Outcome.DELIVERED),
        (None, Progress.REQUESTED, _final(None, Progress.ANSWERED), Outcome.DELIVERED),
        (None, Progress.ENDED, _final(None), Outcome.NO_ANSWER),
        (Outcome.BUSY, Progress.ENDED, _final(Outcome.FAILED), Outcome.BUSY),
        (Outcome.DELIVERED, Progress.ENDED, _final(Outcome.FAILED, None), Outcome.DELIVERED),
        (Outcome.FAILED, Progress.ANSWERED, _final(None), Outcome.FAILED),
        # a hang-up that overtook the answer
        (Outcome.NO_ANSWER, Progress.ENDED, _progress(Progress.ANSWERED), Outcome.DELIVERED),
        (Outcome.NO_ANSWER, Progress.ENDED, _final(Outcome.DELIVERED), Outcome.DELIVERED),
        (Outcome.NO_ANSWER, Progress.ENDED, _progress(Progress.RINGING), Outcome.NO_ANSWER),
        (Outcome.NO_ANSWER, Progress.ENDED, _final(Outcome.FAILED, None), Outcome.NO_ANSWER),
        (Outcome.INVALID_NUMBER, Progress.ENDED, _final(Outcome.DELIVERED), Outcome.INVALID_NUMBER),
        (None, Progress.RINGING, CallEvent(EventKind.INFO, "c"), None),
        (None, Progress.ANSWERED, CallEvent(EventKind.DTMF, "c", dtmf="1"), None),
    ],
)
def test_settle_outcome(
    current: Outcome | None, furthest: Progress, event: CallEvent, expected: Outcome | None
) -> None:
    assert settle_outcome(current, furthest, event) is expected


@pytest.mark.parametrize(
    ("current", "seen", "expected"),
    [
        (Progress.REQUESTED, Progress.RINGING, Progress.RINGING),
        (Progress.ANSWERED, Progress.RINGING, Progress.ANSWERED),  # a late ringing changes nothing
        (Progress.PLAYED, Progress.ENDED, Progress.ENDED),
        (Progress.ENDED, Progress.ANSWERED, Progress.ENDED),
        (Progress.RINGING, None, Progress.RINGING),
        (Progress.RINGING, Progress.RINGING, Progress.RINGING),
    ],
)
def test_progress_never_moves_backwards(
    current: Progress, seen: Progress | None, expected: Progress
) -> None:
    assert Progress.furthest(current, seen) is expected


def test_progress_order() -> None:
    assert [progress.rank for progress in Progress] == list(range(len(Progress)))
    assert [p for p in Progress if p.shows_answer] == [
        Progress.ANSWERED,
        Progress.PLAYING,
        Progress.PLAYED,
    ]
