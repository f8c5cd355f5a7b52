"""Fractel FoneStorm: numbers as it dials them, requests, answers and call notifications."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from campaigner.config import Settings
from campaigner.errors import ConfigError
from campaigner.model import MessageKind, Outcome
from campaigner.providers import (
    Accepted,
    CallEvent,
    CallRequest,
    Credentials,
    DialAnswer,
    EventKind,
    HttpRequest,
    NumberNotDialable,
    Progress,
    Refused,
    RenderedMessage,
    Transient,
    Unparseable,
    UnsupportedCall,
)
from campaigner.providers.fractel import FractelAdapter, dial_digits, fonenumber

FIXTURES = Path(__file__).parent / "fixtures" / "fractel"
ADAPTER = FractelAdapter()
CREDENTIALS = Credentials("https://sim.test/v2", secret="api-token")
UID = "7c1d2e3f-0a1b-4c5d-8e9f-a0b1c2d3e4f5"


def _ended(outcome: Outcome | None, disposition: str) -> CallEvent:
    return CallEvent(
        EventKind.FINAL, UID, progress=Progress.ENDED, outcome=outcome, provider_reason=disposition
    )


WEBHOOKS: dict[str, CallEvent] = {
    "constructed-begin.json": CallEvent(
        EventKind.PROGRESS, UID, progress=Progress.ACCEPTED, provider_reason="BEGIN"
    ),
    "constructed-end-answered.json": _ended(Outcome.DELIVERED, "ANSWERED"),
    "constructed-end-no-answer.json": _ended(Outcome.NO_ANSWER, "NO_ANSWER"),
    "constructed-end-cancel.json": _ended(Outcome.NO_ANSWER, "CANCEL"),
    "constructed-end-busy.json": _ended(Outcome.BUSY, "BUSY"),
    "constructed-end-rejected.json": _ended(Outcome.BUSY, "REJECTED"),
    "constructed-end-invalid.json": _ended(Outcome.INVALID_NUMBER, "INVALID"),
    "constructed-end-failed.json": _ended(Outcome.FAILED, "FAILED"),
    "constructed-end-failed-503.json": _ended(Outcome.FAILED, "FAILED:503"),
    "constructed-inbound.json": CallEvent(
        EventKind.INFO,
        "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        provider_reason="INBOUND VOICE END",
    ),
}
DIAL_ANSWERS: dict[str, tuple[int, DialAnswer]] = {
    "constructed-call.json": (200, Accepted("2b4c6d8e-1f3a-11ee-9eec-0242ac120002")),
}


@pytest.mark.parametrize(("name", "expected"), WEBHOOKS.items())
def test_every_notification_sample(name: str, expected: CallEvent) -> None:
    body = (FIXTURES / "webhook" / name).read_bytes()
    # FoneStorm's POST callback method sends its JSON under a form content type.
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert ADAPTER.parse_webhook(body, headers) == expected


@pytest.mark.parametrize(("name", "status", "expected"), [(n, *v) for n, v in DIAL_ANSWERS.items()])
def test_every_dial_answer_sample(name: str, status: int, expected: DialAnswer) -> None:
    body = (FIXTURES / "dial-answer" / name).read_bytes()
    assert ADAPTER.parse_dial_answer(status, {}, body) == expected


def test_every_fixture_file_is_in_a_table() -> None:
    tables = {"webhook": set(WEBHOOKS), "dial-answer": set(DIAL_ANSWERS)}
    for role, names in tables.items():
        assert {path.name for path in (FIXTURES / role).iterdir()} == names, role
    assert {path.name for path in FIXTURES.iterdir()} == set(tables)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # FoneStorm documents its errors by HTTP status only: whatever the body says is kept.
        (b"Unauthorized", Refused("401", "Unauthorized", 401)),
        (b'{"error": "Invalid token"}', Refused("401", "Invalid token", 401)),
        (
            b'{"error": {"code": "E1001", "message": "Invalid FoneNumber"}}',
            Refused("E1001", "Invalid FoneNumber", 401),
        ),
        (b"", Refused("401", "HTTP 401 with an empty body", 401)),
    ],
)
def test_refusals(body: bytes, expected: Refused) -> None:
    assert ADAPTER.parse_dial_answer(401, {}, body) == expected


def test_more_than_ten_requests_a_second_is_transient() -> None:
    answer = ADAPTER.parse_dial_answer(429, {"retry-after": "1"}, b"Too Many Requests")
    assert answer == Transient("HTTP 429", 1.0)


def test_a_2xx_without_a_call_id_is_refused() -> None:
    answer = ADAPTER.parse_dial_answer(200, {}, b'{"call": {}}')
    assert answer == Refused("unreadable", "answer has no call.id (call)", 200)


@pytest.mark.parametrize(
    ("e164", "digits"),
    [
        ("+12025550188", "12025550188"),  # US: 1 + 10 digits
        ("+16135550123", "16135550123"),  # Canada
        ("+18765550123", "18765550123"),  # Jamaica, in the same plan
        ("+4930123456", "0114930123456"),  # international: 011 + country code + number
        ("+390612345678", "011390612345678"),  # Italy keeps its leading 0
        ("+861012345678", "011861012345678"),  # exactly 15 digits
    ],
)
def test_numbers_as_fonestorm_dials_them(e164: str, digits: str) -> None:
    assert dial_digits(e164) == digits


@pytest.mark.parametrize(
    ("e164", "refusal"),
    [
        ("+4915112345678", "needs 16"),  # 011 + 49 + 11 digits: more than `to` may hold
        ("12025550188", "not an E.164 phone number"),
        ("not a number", "not an E.164 phone number"),
    ],
)
def test_numbers_fonestorm_cannot_dial(e164: str, refusal: str) -> None:
    with pytest.raises(NumberNotDialable, match=refusal):
        dial_digits(e164)


def test_caller_id_is_the_fonenumber_s_ten_digits() -> None:
    assert fonenumber("+12025550143") == "2025550143"


KEY = "c-7-a-1"


def _call(
    kind: MessageKind,
    content: str,
    *,
    voice: str | None = None,
    language: str | None = None,
    caller_id: str = "+12025550143",
    collect_dtmf: bool = False,
) -> CallRequest:
    message = RenderedMessage(kind, content, voice, language)
    return CallRequest(KEY, "+4930123456", caller_id, message, "https://h.test", collect_dtmf)


@pytest.mark.parametrize(
    ("call", "service_type", "service_id"),
    [
        (_call(MessageKind.TTS, "Hello Ada"), "TTS", "Hello Ada"),
        (_call(MessageKind.SSML, "<speak>Hi</speak>"), "TTS", "<speak>Hi</speak>"),
        (_call(MessageKind.AUDIO_URL, "https://a.test/n.wav"), "SoundFile", "https://a.test/n.wav"),
        (
            _call(MessageKind.AUDIO_URL_COLUMN, "http://a.test/7.wav"),
            "SoundFile",
            "http://a.test/7.wav",
        ),
    ],
)
def test_dial_request_for_every_message_kind(
    call: CallRequest, service_type: str, service_id: str
) -> None:
    assert ADAPTER.dial_request(call, CREDENTIALS) == HttpRequest(
        "POST",
        "https://sim.test/v2/calls",
        {"token": "api-token", "Content-Type": "application/json", "Accept": "application/json"},
        {
            "fonenumber": "2025550143",
            "to": "0114930123456",
            "service_type": service_type,
            "service_id": service_id,
        },
    )


@pytest.mark.parametrize(
    ("call", "refusal"),
    [
        (_call(MessageKind.PROMPT, "welcome"), "cannot play a prompt message"),
        (_call(MessageKind.TTS, "Hi", collect_dtmf=True), "cannot collect key presses"),
        (_call(MessageKind.TTS, "Hi", voice="female"), "no choice of voice"),
        (_call(MessageKind.TTS, "Hi", language="en-US"), "no choice of TTS language"),
        (_call(MessageKind.TTS, "Hi", caller_id="+442079460000"), r"presents only \+1 caller IDs"),
    ],
)
def test_dial_request_refuses_what_fractel_cannot_do(call: CallRequest, refusal: str) -> None:
    with pytest.raises(UnsupportedCall, match=refusal):
        ADAPTER.dial_request(call, CREDENTIALS)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"status": "END", "disposition": "answered"}, Outcome.DELIVERED),  # any case
        ({"status": "END", "disposition": "FAILED:486"}, Outcome.FAILED),
        ({"status": "END", "disposition": "SOMETHING_NEW"}, None),  # a hang-up to settle
        ({"status": "END"}, None),
        ({"disposition": "BUSY"}, Outcome.BUSY),  # no status, but an outcome all the same
    ],
)
def test_dispositions(fields: dict[str, str], expected: Outcome | None) -> None:
    body = json.dumps({"uid": UID, "direction": "OUTBOUND", "type": "VOICE", **fields}).encode()
    event = ADAPTER.parse_webhook(body, {})
    assert isinstance(event, CallEvent)
    assert (event.kind, event.outcome) == (EventKind.FINAL, expected)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"type": "FAX", "status": "END", "disposition": "ANSWERED"}, "OUTBOUND FAX END"),
        ({"status": "RINGING"}, "status RINGING"),
    ],
)
def test_notifications_that_say_nothing_of_our_calls(fields: dict[str, str], reason: str) -> None:
    event = ADAPTER.parse_webhook(json.dumps({"uid": UID, **fields}).encode(), {})
    assert event == CallEvent(EventKind.INFO, UID, provider_reason=reason)


def test_a_notification_without_uid_is_unparseable() -> None:
    body = b'{"status": "END", "disposition": "ANSWERED"}'
    assert ADAPTER.parse_webhook(body, {}) == Unparseable(
        "a Fractel call notification names its call by uid"
    )


def test_credentials_from_settings() -> None:
    settings = Settings({("fractel", "token"): "t"})
    assert ADAPTER.credentials(settings) == Credentials("https://api.fonestorm.com/v2", secret="t")
    with pytest.raises(ConfigError, match="CAMPAIGNER_FRACTEL_TOKEN"):
        ADAPTER.credentials(Settings({}))


def test_the_callback_is_set_on_the_fonenumber_as_json() -> None:
    request = ADAPTER.callback_request(
        "+13125550100", "https://h.test/hooks/fractel/t", CREDENTIALS
    )
    assert request == HttpRequest(
        "POST",
        "https://sim.test/v2/calls/send_notify",
        {"token": "api-token", "Content-Type": "application/json", "Accept": "application/json"},
        {
            "fonenumber": "3125550100",
            "type": "Callback",
            "method": "JSON",
            "url": "https://h.test/hooks/fractel/t",
        },
    )
