"""Webex Connect: requests shaped like the vendor's samples, its answers and status receipts."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
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
    Progress,
    Refused,
    RenderedMessage,
    Unparseable,
    UnsupportedCall,
)
from campaigner.providers.webex import WebexAdapter

FIXTURES = Path(__file__).parent / "fixtures" / "webex"
ADAPTER = WebexAdapter()
CREDENTIALS = Credentials("https://sim.test/v1", secret="service-key")
TRANSID = "6f1d2c3b-4a59-4e8d-9c7b-1a2b3c4d5e6f"
KEY = "attempt-42-1"


def _receipt(
    kind: EventKind,
    progress: Progress,
    outcome: Outcome | None,
    reason: str,
    at: datetime,
    key: str | None = KEY,
) -> CallEvent:
    return CallEvent(
        kind,
        TRANSID,
        key,
        progress=progress,
        outcome=outcome,
        provider_reason=reason,
        occurred_at=at,
    )


def _at(hour: int, minute: int, second: int, micro: int = 0) -> datetime:
    return datetime(2024, 9, 4, hour, minute, second, micro, tzinfo=UTC)


FINAL, ENDED = EventKind.FINAL, Progress.ENDED
WEBHOOKS: dict[str, CallEvent] = {
    "constructed-offered.json": _receipt(
        EventKind.PROGRESS,
        Progress.ACCEPTED,
        None,
        "OFFERED 7407 Call offered",
        _at(10, 42, 17, 102000),
    ),
    "constructed-accepted.json": _receipt(
        EventKind.PROGRESS,
        Progress.RINGING,
        None,
        "ACCEPTED 7408 Call accepted",
        _at(10, 42, 18, 340000),
    ),
    # no zone on the timestamp: UTC
    "constructed-answered.json": _receipt(
        FINAL,
        Progress.ANSWERED,
        Outcome.DELIVERED,
        "ANSWERED 7519 Answered",
        _at(10, 42, 25, 481000),
    ),
    "constructed-rejected.json": _receipt(
        FINAL, ENDED, Outcome.BUSY, "REJECTED 7402 Customer busy", _at(10, 42, 21)
    ),
    "constructed-dropped.json": _receipt(
        FINAL, ENDED, Outcome.FAILED, "DROPPED 7409 Call dropped", _at(10, 42, 30, 469000)
    ),
    "constructed-released.json": _receipt(
        FINAL, ENDED, None, "RELEASED Call released", _at(10, 43, 2)
    ),
    # -04:00 on the timestamp
    "constructed-disconnected.json": _receipt(
        FINAL, ENDED, None, "DISCONNECTED 7410 Disconnected", _at(10, 43, 2)
    ),
    # an empty correlationid is no key
    "constructed-expired.json": _receipt(
        FINAL, ENDED, Outcome.NO_ANSWER, "EXPIRED 7208 Message expired", _at(10, 52, 17), key=None
    ),
    "constructed-sms-receipt.json": CallEvent(
        EventKind.INFO,
        TRANSID,
        KEY,
        provider_reason="Delivered 7500 Delivered",
        occurred_at=_at(10, 42, 17),
    ),
}
# The page gives no HTTP status for its error samples: a 4xx each, and the same body at 200.
DIAL_ANSWERS: dict[str, list[tuple[int, DialAnswer]]] = {
    "accepted.json": [(200, Accepted("acc27bb5-1234-XXXX-XXXX-1a6036fcced5"))],
    "7004-invalid-parameter.json": [
        (400, Refused("7004", "Invalid parameter -  : contentType", 400)),
        (200, Refused("7004", "Invalid parameter -  : contentType", 200)),
    ],
    "7001-authentication-failed.json": [
        (401, Refused("7001", "Authentication failed.", 401)),
        (200, Refused("7001", "Authentication failed.", 200)),
    ],
}


@pytest.mark.parametrize(("name", "expected"), WEBHOOKS.items())
def test_every_receipt_sample(name: str, expected: CallEvent) -> None:
    body = (FIXTURES / "webhook" / name).read_bytes()
    assert ADAPTER.parse_webhook(body, {"Content-Type": "application/json"}) == expected


@pytest.mark.parametrize(
    ("name", "status", "expected"),
    [(name, *answer) for name, answers in DIAL_ANSWERS.items() for answer in answers],
)
def test_every_dial_answer_sample(name: str, status: int, expected: DialAnswer) -> None:
    body = (FIXTURES / "dial-answer" / name).read_bytes()
    assert ADAPTER.parse_dial_answer(status, {}, body) == expected


def _call(
    kind: MessageKind,
    content: str,
    *,
    voice: str | None = None,
    language: str | None = None,
    key: str = KEY,
    collect_dtmf: bool = False,
) -> CallRequest:
    message = RenderedMessage(kind, content, voice, language)
    return CallRequest(
        key, "+14155550123", "+14155550100", message, "https://hooks.test/webex", collect_dtmf
    )


def _tts(text_format: str, text: str, voice: str, gender: str, language: str) -> dict[str, object]:
    return {
        "type": "TTS",
        "style": "NEURAL",
        "language": language,
        "voice": voice,
        "gender": gender,
        "engine": "AZURE",
        "textFormat": text_format,
        "text": text,
    }


REQUESTS: list[tuple[CallRequest, dict[str, object]]] = [
    (
        _call(MessageKind.TTS, "Hello Ada"),
        _tts("TEXT", "Hello Ada", "AriaNeural", "FEMALE", "en-US"),
    ),
    (
        _call(MessageKind.TTS, "Hola", voice="male", language="es-ES"),
        _tts("TEXT", "Hola", "GuyNeural", "MALE", "es-ES"),
    ),
    (
        _call(MessageKind.TTS, "Hi", voice="Female"),
        _tts("TEXT", "Hi", "AriaNeural", "FEMALE", "en-US"),
    ),
    (
        _call(MessageKind.TTS, "Hi", voice="JennyNeural"),
        _tts("TEXT", "Hi", "JennyNeural", "FEMALE", "en-US"),
    ),
    (
        _call(MessageKind.SSML, "<speak>Hi</speak>"),
        _tts("SSML", "<speak>Hi</speak>", "AriaNeural", "FEMALE", "en-US"),
    ),
    (
        _call(MessageKind.AUDIO_URL, "https://a.test/n.mp3"),
        {"type": "URL", "location": "https://a.test/n.mp3"},
    ),
    (
        _call(MessageKind.AUDIO_URL_COLUMN, "https://a.test/7.wav"),
        {"type": "URL", "location": "https://a.test/7.wav"},
    ),
    (_call(MessageKind.PROMPT, "m-123"), {"type": "MEDIA", "mediaId": "m-123"}),
]


@pytest.mark.parametrize(("call", "audio"), REQUESTS)
def test_dial_request_for_every_message_kind(call: CallRequest, audio: dict[str, object]) -> None:
    assert ADAPTER.dial_request(call, CREDENTIALS) == HttpRequest(
        "POST",
        "https://sim.test/v1/voice/messages",
        {
            "key": "service-key",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Idempotency-Key": KEY,
        },
        {
            "callerId": "+14155550100",
            "dialedNumber": "+14155550123",
            "audio": audio,
            "correlationId": KEY,
            "callbackUrl": "https://hooks.test/webex",
        },
    )


def _vendor_request(name: str) -> dict[str, object]:
    """The vendor's sample without its `//` comments and trailing commas (nothing else changes)."""
    text = (FIXTURES / "request" / name).read_text()
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r",(\s*})", r"\1", text)
    document = json.loads(text)
    assert isinstance(document, dict)
    return document


REQUEST_SAMPLES = {
    "tts.txt": _call(MessageKind.TTS, "Hello"),
    "ssml.txt": _call(MessageKind.SSML, "<speak>Hello</speak>"),
    "audio-url.txt": _call(MessageKind.AUDIO_URL, "https://a.test/n.wav"),
    "media.txt": _call(MessageKind.PROMPT, "m-1"),
}


@pytest.mark.parametrize(("name", "call"), REQUEST_SAMPLES.items())
def test_dial_request_has_the_vendor_samples_fields(name: str, call: CallRequest) -> None:
    vendor = _vendor_request(name)
    ours = ADAPTER.dial_request(call, CREDENTIALS).json
    assert ours is not None
    assert set(ours) <= set(vendor)
    vendor_audio = vendor["audio"]
    assert isinstance(vendor_audio, dict)
    assert set(ours["audio"]) == set(vendor_audio)
    assert ours["audio"]["type"] == vendor_audio["type"]
    if "textFormat" in vendor_audio:
        assert ours["audio"]["textFormat"] == vendor_audio["textFormat"]


def test_every_fixture_file_is_in_a_table() -> None:
    tables = {
        "webhook": set(WEBHOOKS),
        "dial-answer": set(DIAL_ANSWERS),
        "request": set(REQUEST_SAMPLES),
    }
    for role, names in tables.items():
        assert {path.name for path in (FIXTURES / role).iterdir()} == names, role
    assert {path.name for path in FIXTURES.iterdir()} == set(tables)


@pytest.mark.parametrize(
    ("call", "refusal"),
    [
        (_call(MessageKind.TTS, "Hi", key="k" * 65), "at most 64 characters"),
        (_call(MessageKind.TTS, "Hi", collect_dtmf=True), "cannot collect key presses"),
    ],
)
def test_dial_request_refuses_what_webex_cannot_do(call: CallRequest, refusal: str) -> None:
    with pytest.raises(UnsupportedCall, match=refusal):
        ADAPTER.dial_request(call, CREDENTIALS)


def test_a_64_character_key_is_fine() -> None:
    request = ADAPTER.dial_request(_call(MessageKind.TTS, "Hi", key="k" * 64), CREDENTIALS)
    assert request.headers["Idempotency-Key"] == "k" * 64


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({}, "a Webex Connect receipt has a deliveryInfoNotification object"),
        ({"deliveryInfoNotification": "ANSWERED"}, "has a deliveryInfoNotification object"),
        ({"deliveryInfoNotification": {"deliveryInfo": {}}}, "names its transid or correlationid"),
        ({"deliveryInfoNotification": {"transid": "t"}}, "has deliveryInfo.deliveryStatus"),
    ],
)
def test_unreadable_receipts(document: dict[str, object], reason: str) -> None:
    result = ADAPTER.parse_webhook(json.dumps(document).encode(), {})
    assert isinstance(result, Unparseable)
    assert reason in result.reason


def test_message_expired_as_the_call_status_page_spells_it() -> None:
    body = {
        "deliveryInfoNotification": {
            "deliveryInfo": {"deliveryStatus": "Message Expired", "deliveryChannel": "voice"},
            "transid": "t",
        }
    }
    event = ADAPTER.parse_webhook(json.dumps(body).encode(), {})
    assert isinstance(event, CallEvent)
    assert event.outcome is Outcome.NO_ANSWER


def test_credentials_from_settings() -> None:
    settings = Settings({("webex", "service_key"): "s"})
    assert ADAPTER.credentials(settings) == Credentials(
        "https://api.us.webexconnect.io/v1", secret="s"
    )
    eu = Settings({**settings.values, ("webex", "base_url"): "https://api.eu.webexconnect.io/v1"})
    assert ADAPTER.credentials(eu).base_url == "https://api.eu.webexconnect.io/v1"
    with pytest.raises(ConfigError, match="CAMPAIGNER_WEBEX_SERVICE_KEY"):
        ADAPTER.credentials(Settings({}))


def test_a_receipt_from_another_channel_is_not_about_our_calls() -> None:
    info = {"deliveryStatus": "ACCEPTED", "deliveryChannel": "SMS"}
    body = {"deliveryInfoNotification": {"deliveryInfo": info, "transid": "t"}}
    event = ADAPTER.parse_webhook(json.dumps(body).encode(), {})
    assert event == CallEvent(EventKind.INFO, "t", provider_reason="ACCEPTED")
