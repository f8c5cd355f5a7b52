"""EnableX Voice API, as the simulator speaks it (PROVIDERS.md, seeds/enablex-*.txt). Pure.

Errors are `{result, msg, state: "failed", timestamp}`. The vendor's codes are used where its
docs give one (6118 caller ID not provisioned, as the string "6118" like the docs' sample; 6117
TTS voice not supported; 6110 application not found); where they give none the simulator uses the
HTTP status as the result, as the docs do for 400 and 405 (400 bad payload, 401 bad credentials,
404 no such call, 429 rate limited, 5xx).

Events carry `voice_id`, `from`, `to`, `channel_id`, `owner_ref` and `timestamp`; a share of
timestamps have the docs' odd `2021-02-18T12:47-00Z` form (`Behaviour.quirky_timestamps`), a
collected `digit` is a number, and the optional `dtmfcollected` event spells `voice_Id`.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

from ..model import Outcome
from .behaviour import Behaviour
from .calls import (
    Call,
    Callback,
    DialRequest,
    JsonObject,
    Plan,
    Refusal,
    Step,
    e164,
    is_http_url,
    parse_json_object,
    text_field,
    zulu,
)
from .config import Credentials, SimulatorConfig

PROVIDER = "enablex"
PREFIX = "/enablex/voice/v1"
IDEMPOTENCY_WINDOW = 24 * 3600.0  # a repeated Idempotency-Key within it returns the first answer
TTS_VOICES = frozenset({"male", "female"})
PLAY_SOURCES = ("text", "ssml", "url", "prompt_name")


def error(status: int, result: int | str, msg: str, at: datetime) -> Refusal:
    body: JsonObject = {"result": result, "msg": msg, "state": "failed", "timestamp": zulu(at)}
    return Refusal(status, body, str(result))


def authenticate(
    headers: Mapping[str, str], credentials: Credentials, at: datetime
) -> Refusal | None:
    """HTTP Basic APP_ID:APP_KEY; an unknown APP_ID is EnableX's 6110 Application Not Found."""
    scheme, _, encoded = (headers.get("authorization") or "").partition(" ")
    try:
        app_id, sep, app_key = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        sep = ""
    if scheme.lower() != "basic" or not sep:
        return error(401, 401, "Unauthorized: HTTP Basic APP_ID:APP_KEY required", at)
    if app_id != credentials.enablex_app_id:
        return error(404, "6110", "Application Not Found", at)
    if app_key != credentials.enablex_app_key:
        return error(401, 401, "Unauthorized: wrong APP_KEY for this application", at)
    return None


def parse_dial(body: bytes, caller_ids: frozenset[str], at: datetime) -> DialRequest | Refusal:
    document = parse_json_object(body)
    if document is None:
        return error(400, 400, "Bad Request: the body must be a JSON object", at)
    for name in ("from", "to"):
        if not text_field(document, name):
            return error(400, 400, f"Bad Request: `{name}` is missing", at)
    to = e164(document["to"])
    if to is None:
        return error(400, 400, f"Bad Request: `to` {document['to']!r} is not a phone number", at)
    action = document.get("action_on_connect")
    if not isinstance(action, dict) or not isinstance(action.get("play"), dict):
        return error(
            400,
            400,
            "Bad Request: `action_on_connect.play` is missing (the simulator "
            "plays messages; it does not bridge calls or join rooms)",
            at,
        )
    play: JsonObject = action["play"]
    problem = _play_problem(play, at)
    if problem:
        return problem
    if e164(document["from"]) not in caller_ids:
        return error(404, "6118", "Phone number not found for the service", at)
    event_url = document.get("event_url")
    if event_url is not None and not is_http_url(event_url):
        return error(400, 400, "Bad Request: `event_url` must be an http(s) URL", at)
    owner_ref = document.get("owner_ref")
    return DialRequest(
        to=to,
        to_raw=document["to"],
        caller_id=document["from"],
        correlation=owner_ref if isinstance(owner_ref, str) else None,
        callback=Callback(event_url) if event_url else None,
        dtmf=play.get("dtmf") is True,
        prompt_ref=play.get("prompt_ref") if isinstance(play.get("prompt_ref"), str) else None,
    )


def _play_problem(play: JsonObject, at: datetime) -> Refusal | None:
    sources = [name for name in PLAY_SOURCES if play.get(name)]
    if len(sources) != 1:
        return error(
            400,
            400,
            "Bad Request: `play` needs exactly one of text, ssml, url, "
            f"prompt_name (got {', '.join(sources) or 'none'})",
            at,
        )
    if sources == ["text"]:
        if play.get("voice") not in TTS_VOICES:
            return error(406, 6117, "Voice not supported for text-to-speech conversion", at)
        if not text_field(play, "language"):
            return error(400, 400, "Bad Request: `play.language` is missing", at)
    if sources == ["url"] and not is_http_url(play["url"], https_only=True):
        return error(400, 400, "Media Request Failed", at)
    return None


def parse_play(body: bytes, at: datetime) -> str | Refusal | None:
    """A PUT .../play body: its prompt_ref (None if it has none), or the refusal."""
    document = parse_json_object(body)
    if document is None:
        return error(400, 400, "Bad Request: the body must be a JSON object", at)
    problem = _play_problem(document, at)
    if problem:
        return problem
    prompt_ref = document.get("prompt_ref")
    return prompt_ref if isinstance(prompt_ref, str) else None


def play_answer(call: Call, at: datetime) -> JsonObject:
    return {
        "voice_id": call.call_id,
        "playstate": "initiated",
        "from": call.request.caller_id,
        "to": call.request.to_raw,
        "timestamp": zulu(at),
    }


def replay_steps(
    call: Call, config: SimulatorConfig, start: datetime, prompt_ref: str | None, play: int
) -> list[Step]:
    """The events of the message played again (play 1 = the first replay): `initiated`, then the
    key the number presses this time, or `menutimeout`."""
    events = _Events(call, config.behaviour, start, str(uuid.uuid4()), prompt_ref)
    end = config.timing.play_duration.draw(call.rng)
    return [events.play(0, "initiated"), *_play_end(events, config.behaviour, end, play)]


def answer(call: Call, at: datetime) -> tuple[int, JsonObject]:
    return 200, {
        "voice_id": call.call_id,
        "state": "initiated",
        "from": call.request.caller_id,
        "to": call.request.to_raw,
        "timestamp": zulu(at),
    }


def new_call_id() -> str:
    return str(uuid.uuid4())


def plan(call: Call, config: SimulatorConfig, start: datetime) -> Plan:
    """The events of `call`, per PROVIDERS.md's outcome table."""
    timing, behaviour = config.timing, config.behaviour
    events = _Events(call, behaviour, start, str(uuid.uuid4()))
    rng = call.rng
    ring = timing.ring_delay.draw(rng)
    end = ring + timing.play_duration.draw(rng)
    outcome = call.outcome
    variant = behaviour.variants and rng.random() < 0.3
    if outcome is Outcome.DELIVERED and variant:  # the callee hangs up mid-message
        return Plan(
            (
                events.state(0, "ringing"),
                events.state(ring, "connected"),
                events.play(ring, "initiated"),
                events.state((ring + end) / 2, "disconnected", "Normal Clearing"),
            )
        )
    if outcome is Outcome.DELIVERED:
        steps = [
            events.state(0, "ringing"),
            events.state(ring, "connected"),
            events.play(ring, "initiated"),
        ]
        steps.extend(_play_end(events, behaviour, end))
        return Plan(tuple(steps), awaits_hangup=True)
    if outcome is Outcome.BUSY:
        return Plan((events.state(ring, "disconnected", "User Busy"),))
    if outcome is Outcome.NO_ANSWER:
        return Plan(
            (events.state(0, "ringing"), events.state(ring, "disconnected", "Normal Clearing"))
        )
    if outcome is Outcome.FAILED and variant:  # answered, but the message could not be played
        return Plan(
            (
                events.state(0, "ringing"),
                events.state(ring, "connected"),
                events.play(ring, rng.choice(("failed", "error"))),
                events.state(ring, "disconnected", "Normal Clearing"),
            )
        )
    return Plan((events.state(ring, "failed"),))  # failed, and invalid numbers


def _play_end(events: _Events, behaviour: Behaviour, at: float, play: int = 0) -> list[Step]:
    if not events.call.request.dtmf:
        return [events.play(at, "playfinished")]
    digit = behaviour.digit(events.call.rng, events.call.request.to, play)
    if digit is None:
        return [events.play(at, "menutimeout")]
    steps = [events.play(at, "digitcollected", digit)]
    if behaviour.dtmfcollected_events:
        steps.append(events.dtmf(at, digit))
    return steps


def hangup_event(call: Call, behaviour: Behaviour, at: datetime) -> Step:
    """`disconnected` after the client's DELETE or the simulator's hang-up timeout."""
    return _Events(call, behaviour, at, "").state(0, "disconnected", "Normal Clearing")


def hangup_answer(call: Call, at: datetime) -> JsonObject:
    return {
        "voice_id": call.call_id,
        "state": "success",
        "from": call.request.caller_id,
        "to": call.request.to_raw,
        "timestamp": zulu(at),
    }


def call_info(call: Call, state: str, at: datetime) -> JsonObject:
    """GET /call/{voice_id}: state `In progress` (ringing), `IVR` (playing) or `connected`."""
    return {
        "voice_id": call.call_id,
        "state": state,
        "direction": "Outbound",
        "from": call.request.caller_id,
        "to": call.request.to_raw,
        "timestamp": zulu(at),
    }


def live_state(event: str, current: str) -> str:
    """The GET state once `event` has been sent."""
    return {
        "connected": "IVR",
        "initiated": "IVR",
        "playfinished": "connected",
        "digitcollected": "connected",
        "menutimeout": "connected",
    }.get(event, current)


def no_such_call(voice_id: str, at: datetime) -> Refusal:
    refusal = error(404, 404, "Call not found or already disconnected", at)
    return Refusal(refusal.status, {"voice_id": voice_id, **refusal.body}, refusal.code)


def rate_limited(retry_after: int, at: datetime) -> Refusal:
    refusal = error(429, 429, "Too Many Requests", at)
    return Refusal(429, refusal.body, "429", {"Retry-After": str(retry_after)})


def server_error(status: int, at: datetime) -> Refusal:
    return error(status, status, "Service Unavailable" if status == 503 else "Server Error", at)


class _Events:
    """Builds one call's event payloads, each stamped `start + offset`."""

    def __init__(
        self,
        call: Call,
        behaviour: Behaviour,
        start: datetime,
        play_id: str,
        prompt_ref: str | None = None,
    ) -> None:
        self.call = call
        self.behaviour = behaviour
        self.start = start
        self.play_id = play_id
        self.prompt_ref = prompt_ref or call.request.prompt_ref
        self.channel_id = f"{call.call_id[:8]}-leg"

    def _common(self, offset: float) -> JsonObject:
        request = self.call.request
        body: JsonObject = {
            "voice_id": self.call.call_id,
            "from": request.caller_id,
            "to": request.to_raw,
            "channel_id": self.channel_id,
            "timestamp": self._timestamp(offset),
        }
        if request.correlation is not None:
            body["owner_ref"] = request.correlation
        return body

    def _timestamp(self, offset: float) -> str:
        at = self.start + timedelta(seconds=offset)
        if self.call.rng.random() < self.behaviour.quirky_timestamps:
            return at.strftime("%Y-%m-%dT%H:%M-00Z")
        return zulu(at)

    def state(self, offset: float, state: str, reason: str | None = None) -> Step:
        body = {**self._common(offset), "state": state}
        if reason:
            body["disconnect_reason"] = reason
        return Step(offset, state, body)

    def play(self, offset: float, playstate: str, digit: str | None = None) -> Step:
        body = {**self._common(offset), "play_id": self.play_id, "playstate": playstate}
        if self.prompt_ref is not None:
            body["prompt_ref"] = self.prompt_ref
        if digit is not None:
            body["digit"] = int(digit) if digit.isdigit() else digit
        return Step(offset, playstate, body)

    def dtmf(self, offset: float, digit: str) -> Step:
        body = {
            "voice_Id": self.call.call_id,
            "state": "dtmfcollected",
            "digit": int(digit) if digit.isdigit() else digit,
            "timestamp": self._timestamp(offset),
        }
        return Step(offset, "dtmfcollected", body)
