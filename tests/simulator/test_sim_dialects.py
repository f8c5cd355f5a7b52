"""Each fake vendor's checks, answers and webhook sequences, as pure functions: tables of cases."""

from __future__ import annotations

import base64
import json
import random
from datetime import UTC, datetime
from typing import Any

import pytest
from sim_helpers import CALLER_ID, ENABLEX_AUTH, enablex_call, fractel_call, webex_message

from campaigner.model import Outcome
from campaigner.simulator import (
    Behaviour,
    Credentials,
    SimulatorConfig,
    Span,
    Timing,
    digit_mix,
    enablex,
    fractel,
    webex,
)
from campaigner.simulator.calls import Call, Callback, DialRequest, Refusal

AT = datetime(2026, 11, 17, 14, 30, 5, 123456, tzinfo=UTC)
CREDENTIALS = Credentials()
CALLER_IDS = frozenset({CALLER_ID})


def encoded(body: Any) -> bytes:
    return json.dumps(body).encode()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# Authentication ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "status", "result"),
    [
        (None, 401, 401),
        ("Bearer abc", 401, 401),
        ("Basic !!!", 401, 401),
        (basic("sim-enablex-app", "wrong"), 401, 401),
        (basic("other-app", "sim-enablex-key"), 404, "6110"),
    ],
)
def test_enablex_auth(authorization: str | None, status: int, result: int | str) -> None:
    headers = {"authorization": authorization} if authorization else {}
    refusal = enablex.authenticate(headers, CREDENTIALS, AT)
    assert refusal is not None
    assert (refusal.status, refusal.body["result"], refusal.body["state"]) == (
        status,
        result,
        "failed",
    )
    assert refusal.body["timestamp"] == "2026-11-17T14:30:05Z"
    assert enablex.authenticate({"authorization": ENABLEX_AUTH}, CREDENTIALS, AT) is None


@pytest.mark.parametrize(
    ("dialect", "headers", "status", "body"),
    [
        (
            fractel,
            {},
            401,
            {"error": {"code": 401, "message": "Unauthorized: the `token` header is missing"}},
        ),
        (
            fractel,
            {"token": "x"},
            401,
            {"error": {"code": 401, "message": "Unauthorized: invalid API token"}},
        ),
        (webex, {}, 400, {"code": "7002", "message": "Service Key Missing"}),
        (webex, {"key": "x"}, 401, {"code": "7001", "message": "Authentication failed."}),
    ],
)
def test_fractel_and_webex_auth(
    dialect: Any, headers: dict[str, str], status: int, body: dict[str, Any]
) -> None:
    refusal = dialect.authenticate(headers, CREDENTIALS, AT)
    assert (refusal.status, refusal.body) == (status, body)


# Payload checks ------------------------------------------------------------------------------

PLAY = {"text": "Hi", "voice": "female", "language": "en-US"}


@pytest.mark.parametrize(
    ("body", "status", "result", "message"),
    [
        (b"not json", 400, 400, "JSON object"),
        ({**enablex_call(), "from": None}, 400, 400, "`from` is missing"),
        (enablex_call(to=""), 400, 400, "`to` is missing"),
        (enablex_call(to="415-555-0100"), 400, 400, "not a phone number"),
        (
            enablex_call(action_on_connect={"connect": {"to": "+1"}}),
            400,
            400,
            "action_on_connect.play",
        ),
        (enablex_call(action_on_connect={"play": {}}), 400, 400, "exactly one of"),
        (
            enablex_call(action_on_connect={"play": {**PLAY, "url": "https://x/a.wav"}}),
            400,
            400,
            "exactly one",
        ),
        (
            enablex_call(action_on_connect={"play": {**PLAY, "voice": "robot"}}),
            406,
            6117,
            "Voice not supported",
        ),
        (
            enablex_call(action_on_connect={"play": {"text": "Hi", "voice": "male"}}),
            400,
            400,
            "language",
        ),
        (
            enablex_call(action_on_connect={"play": {"url": "http://x/a.wav"}}),
            400,
            400,
            "Media Request Failed",
        ),
        (enablex_call(**{"from": "+13215559999"}), 404, "6118", "Phone number not found"),
        (enablex_call(event_url="ftp://x"), 400, 400, "event_url"),
    ],
)
def test_enablex_refusals(body: Any, status: int, result: int | str, message: str) -> None:
    refusal = enablex.parse_dial(body if isinstance(body, bytes) else encoded(body), CALLER_IDS, AT)
    assert isinstance(refusal, Refusal)
    assert (refusal.status, refusal.body["result"], refusal.code) == (status, result, str(result))
    assert message in refusal.body["msg"]


@pytest.mark.parametrize(
    "play",
    [
        PLAY,
        {"ssml": "<speak>Hi</speak>"},
        {"url": "https://x/a.wav"},
        {"prompt_name": "p1", "dtmf": True},
    ],
)
def test_enablex_accepts_each_play_source(play: dict[str, Any]) -> None:
    body = enablex_call(
        to="14155550100",
        action_on_connect={"play": {**play, "prompt_ref": "r"}},
        event_url="http://127.0.0.1:1/hook",
    )
    request = enablex.parse_dial(encoded(body), CALLER_IDS, AT)
    assert isinstance(request, DialRequest)
    assert (request.to, request.to_raw, request.correlation) == (
        "+14155550100",
        "14155550100",
        "contact-1",
    )
    assert request.callback == Callback("http://127.0.0.1:1/hook")
    assert request.dtmf is (play.get("dtmf") is True)
    assert request.prompt_ref == "r"


@pytest.mark.parametrize(
    ("to", "dialed"),
    [
        ("13215550123", "+13215550123"),
        ("1 (321) 555-0123", "+13215550123"),
        ("+13215550123", "+13215550123"),  # the + is a non-digit: ignored, as the vendor says
        ("01149894567898", "+49894567898"),
        ("011 44 20 7123 4567", "+442071234567"),
    ],
)
def test_fractel_dialing_rules_accept(to: str, dialed: str) -> None:
    request = fractel.parse_dial(encoded(fractel_call(to=to)), CALLER_IDS, AT)
    assert isinstance(request, DialRequest)
    assert request.to == dialed


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (fractel_call(to="3215550123"), 400, "1 + 10 digits"),  # no leading 1
        (fractel_call(to="+442071234567"), 400, "011 + country code"),  # E.164 digits abroad
        (fractel_call(to="123456"), 400, "7 to 15 digits"),
        (fractel_call(to="0114420712345678901"), 400, "7 to 15 digits"),
        (fractel_call(service_type="tts"), 400, "service_type"),
        (fractel_call(service_type="SoundFile", service_id="https://x/a.mp3"), 400, "WAV"),
        (fractel_call(fonenumber="3215559999"), 404, "not on this account"),
        (fractel_call(service_id=""), 400, "`service_id` is required"),
        ({"to": "13215550123"}, 400, "`fonenumber` is required"),
    ],
)
def test_fractel_refusals(body: dict[str, Any], status: int, message: str) -> None:
    refusal = fractel.parse_dial(encoded(body), CALLER_IDS, AT)
    assert isinstance(refusal, Refusal)
    assert refusal.status == status
    assert message in refusal.body["error"]["message"]


@pytest.mark.parametrize(
    ("body", "code", "name"),
    [
        (b"{", "7000", None),
        (webex_message(callerId=""), "7004", "callerId"),
        (webex_message(to="abc"), "7004", "dialedNumber"),
        (webex_message(audio=None), "7004", "audio"),
        (webex_message(audio={"type": "SPEECH"}), "7004", "audio.type"),
        (webex_message(audio={"type": "TTS"}), "7004", "audio.text"),
        (
            webex_message(audio={"type": "TTS", "text": "x", "textFormat": "HTML"}),
            "7004",
            "audio.textFormat",
        ),
        (
            webex_message(audio={"type": "URL", "location": "https://x/a.ogg"}),
            "7004",
            "audio.location",
        ),
        (webex_message(audio={"type": "MEDIA"}), "7004", "audio.mediaId"),
        (webex_message(callerId="+13215559999"), "7004", "callerId"),
        (webex_message(callbackUrl="nope"), "7004", "callbackUrl"),
    ],
)
def test_webex_refusals(body: Any, code: str, name: str | None) -> None:
    refusal = webex.parse_dial(body if isinstance(body, bytes) else encoded(body), CALLER_IDS, AT)
    assert isinstance(refusal, Refusal)
    assert (refusal.status, refusal.code, refusal.body["code"]) == (400, code, code)
    if name:
        assert refusal.body["message"] == f"Invalid parameter -  : {name}"


def test_webex_idempotency_key_length() -> None:
    assert webex.check_idempotency_key("k" * 64) is None
    assert webex.check_idempotency_key(None) is None
    refusal = webex.check_idempotency_key("k" * 65)
    assert refusal is not None
    assert refusal.body["message"] == "Invalid parameter -  : Idempotency-Key"


# Answers -------------------------------------------------------------------------------------


def make_call(provider: str, outcome: Outcome, *, dtmf: bool = False, seed: int = 1) -> Call:
    request = DialRequest(
        to="+14155550100",
        to_raw="+14155550100",
        caller_id=CALLER_ID,
        correlation="contact-1",
        callback=Callback("http://127.0.0.1:1/hook"),
        dtmf=dtmf,
        prompt_ref="r1" if dtmf else None,
    )
    return Call(provider, "call-1", request, outcome, 0, random.Random(seed))


def test_answers() -> None:
    assert enablex.answer(make_call("enablex", Outcome.DELIVERED), AT) == (
        200,
        {
            "voice_id": "call-1",
            "state": "initiated",
            "from": CALLER_ID,
            "to": "+14155550100",
            "timestamp": "2026-11-17T14:30:05Z",
        },
    )
    assert fractel.answer(make_call("fractel", Outcome.DELIVERED), AT) == (
        200,
        {"call": {"id": "call-1"}},
    )
    assert webex.answer(make_call("webex", Outcome.DELIVERED), AT) == (
        202,
        {
            "acceptedTime": "2026-11-17T14:30:05.123+00:00",
            "messageId": "call-1",
            "correlationId": "contact-1",
        },
    )


# Webhook sequences ---------------------------------------------------------------------------

PLAIN = SimulatorConfig(timing=Timing(ring_delay=Span(3.0, 3.0), play_duration=Span(10.0, 10.0)))


@pytest.mark.parametrize(
    ("outcome", "events", "awaits_hangup"),
    [
        (Outcome.DELIVERED, ["ringing", "connected", "initiated", "playfinished"], True),
        (Outcome.BUSY, ["disconnected"], False),
        (Outcome.NO_ANSWER, ["ringing", "disconnected"], False),
        (Outcome.FAILED, ["failed"], False),
        (Outcome.INVALID_NUMBER, ["failed"], False),
    ],
)
def test_enablex_sequences(outcome: Outcome, events: list[str], awaits_hangup: bool) -> None:
    plan = enablex.plan(make_call("enablex", outcome), PLAIN, AT)
    assert [step.event for step in plan.steps] == events
    assert plan.awaits_hangup is awaits_hangup
    last = plan.steps[-1].payload
    assert last["voice_id"] == "call-1"
    assert last["owner_ref"] == "contact-1"
    if outcome is Outcome.BUSY:
        assert last["disconnect_reason"] == "User Busy"
    if outcome is Outcome.NO_ANSWER:
        assert last["disconnect_reason"] == "Normal Clearing"
        assert plan.steps[-1].offset == 3.0
    if outcome is Outcome.DELIVERED:
        assert [s.offset for s in plan.steps] == [0.0, 3.0, 3.0, 13.0]
        assert last["timestamp"] == "2026-11-17T14:30:18Z"
        assert last["play_id"] == plan.steps[2].payload["play_id"]


def test_enablex_hangup_event() -> None:
    step = enablex.hangup_event(make_call("enablex", Outcome.DELIVERED), Behaviour(), AT)
    assert (step.event, step.payload["state"], step.payload["disconnect_reason"]) == (
        "disconnected",
        "disconnected",
        "Normal Clearing",
    )


@pytest.mark.parametrize(
    ("digits", "events", "digit"),
    [
        ("4=1", ["digitcollected", "dtmfcollected"], 4),
        ("none=1", ["menutimeout"], None),
        ("#=1", ["digitcollected", "dtmfcollected"], "#"),
    ],
)
def test_enablex_dtmf(digits: str, events: list[str], digit: int | str | None) -> None:
    config = SimulatorConfig(
        behaviour=Behaviour(digits=digit_mix(digits), dtmfcollected_events=True)
    )
    plan = enablex.plan(make_call("enablex", Outcome.DELIVERED, dtmf=True), config, AT)
    assert [s.event for s in plan.steps[3:]] == events
    if digit is not None:
        collected, dtmf = plan.steps[3].payload, plan.steps[4].payload
        assert (collected["playstate"], collected["digit"], collected["prompt_ref"]) == (
            "digitcollected",
            digit,
            "r1",
        )
        assert dtmf == {
            "voice_Id": "call-1",
            "state": "dtmfcollected",
            "digit": digit,
            "timestamp": "2026-11-17T14:30:05Z",
        }


def test_enablex_variants_and_quirky_timestamps() -> None:
    config = SimulatorConfig(behaviour=Behaviour(variants=True, quirky_timestamps=1.0))
    sequences = {
        tuple(
            s.event
            for s in enablex.plan(make_call("enablex", outcome, seed=seed), config, AT).steps
        )
        for seed in range(40)
        for outcome in (Outcome.DELIVERED, Outcome.FAILED)
    }
    assert ("ringing", "connected", "initiated", "disconnected") in sequences  # hung up mid-message
    assert ("ringing", "connected", "initiated", "playfinished") in sequences
    assert any(seq[-2] in ("failed", "error") for seq in sequences if len(seq) == 4)
    step = enablex.plan(make_call("enablex", Outcome.BUSY), config, AT).steps[0]
    assert step.payload["timestamp"] == "2026-11-17T14:30-00Z"


@pytest.mark.parametrize(
    ("outcome", "variants", "dispositions"),
    [
        (Outcome.DELIVERED, {"ANSWERED"}, {"ANSWERED"}),
        (Outcome.BUSY, {"BUSY"}, {"BUSY", "REJECTED"}),
        (Outcome.NO_ANSWER, {"NO_ANSWER"}, {"NO_ANSWER", "CANCEL"}),
        (Outcome.FAILED, {"FAILED"}, {"FAILED", "FAILED:503", "FAILED:480"}),
        (Outcome.INVALID_NUMBER, {"INVALID"}, {"INVALID"}),
    ],
)
def test_fractel_sequences(outcome: Outcome, variants: set[str], dispositions: set[str]) -> None:
    plain = fractel.plan(make_call("fractel", outcome), PLAIN, AT)
    begin, end = (step.payload for step in plain.steps)
    assert (begin["status"], begin["disposition"], end["status"]) == ("BEGIN", "", "END")
    assert {end["disposition"]} == variants
    assert end == {
        "account_code": "SIM0001",
        "direction": "OUTBOUND",
        "status": "END",
        "from": "13215550100",
        "to": "14155550100",
        "type": "VOICE",
        "disposition": end["disposition"],
        "uid": "call-1",
    }
    config = SimulatorConfig(behaviour=Behaviour(variants=True))
    seen = {
        fractel.plan(make_call("fractel", outcome, seed=s), config, AT)
        .steps[1]
        .payload["disposition"]
        for s in range(60)
    }
    assert seen == dispositions


@pytest.mark.parametrize(
    ("outcome", "plain", "variant"),
    [
        (
            Outcome.DELIVERED,
            ["OFFERED", "ACCEPTED", "ANSWERED", "RELEASED"],
            ["OFFERED", "ACCEPTED", "ANSWERED", "DISCONNECTED"],
        ),
        (Outcome.BUSY, ["OFFERED", "REJECTED"], None),
        (Outcome.NO_ANSWER, ["OFFERED", "ACCEPTED", "RELEASED"], ["EXPIRED"]),
        (Outcome.FAILED, ["OFFERED", "DROPPED"], None),
        (Outcome.INVALID_NUMBER, ["OFFERED", "REJECTED"], None),
    ],
)
def test_webex_sequences(outcome: Outcome, plain: list[str], variant: list[str] | None) -> None:
    steps = webex.plan(make_call("webex", outcome), PLAIN, AT).steps
    assert [s.event for s in steps] == plain
    notification = steps[-1].payload["deliveryInfoNotification"]
    assert notification["transid"] == "call-1"
    assert notification["correlationid"] == "contact-1"
    info = notification["deliveryInfo"]
    assert (info["deliveryChannel"], info["destination"]) == ("voice", "+14155550100")
    assert info["timeStamp"].endswith("Z")
    codes = {"BUSY": "7402", "NO_ANSWER": "7401", "FAILED": "7409", "INVALID_NUMBER": "7406"}
    if outcome.name in codes:
        assert info["code"] == codes[outcome.name]
    config = SimulatorConfig(behaviour=Behaviour(variants=True))
    seen = {
        tuple(s.event for s in webex.plan(make_call("webex", outcome, seed=n), config, AT).steps)
        for n in range(40)
    }
    assert seen == {tuple(plain), tuple(variant or plain)}


def test_fractel_send_notify() -> None:
    body = {
        "fonenumber": "3215550100",
        "type": "Callback",
        "method": "json",
        "url": "http://h/cb",
        "username": "u",
        "password": "p",
    }
    assert fractel.parse_send_notify(encoded(body), CALLER_IDS) == (
        CALLER_ID,
        Callback("http://h/cb", "JSON", ("u", "p")),
    )
    assert fractel.parse_send_notify(encoded({**body, "type": "None"}), CALLER_IDS) == (
        CALLER_ID,
        None,
    )
    for bad, status in [
        ({**body, "fonenumber": "3215559999"}, 404),
        ({**body, "method": "PUT"}, 400),
        ({**body, "url": ""}, 400),
        ({**body, "type": "Fax"}, 400),
    ]:
        refusal = fractel.parse_send_notify(encoded(bad), CALLER_IDS)
        assert isinstance(refusal, Refusal)
        assert refusal.status == status
