"""What every adapter promises, whatever the provider: one suite run against each of them."""

from __future__ import annotations

import json

import pytest

from campaigner.campaigns import Message
from campaigner.config import Settings
from campaigner.model import MessageKind, Provider
from campaigner.providers import (
    CallEvent,
    CallRequest,
    ProviderAdapter,
    Refused,
    RenderedMessage,
    Transient,
    Unparseable,
    UnsupportedCall,
    adapter_for,
)

PROVIDERS = list(Provider)
SECRETS = Settings(
    {
        ("enablex", "app_id"): "ENABLEX-APP-ID-5ec",
        ("enablex", "app_key"): "ENABLEX-APP-KEY-5ec",
        ("fractel", "token"): "FRACTEL-TOKEN-5ec",
        ("webex", "service_key"): "WEBEX-SERVICE-KEY-5ec",
    }
)
CONTENT = {
    MessageKind.TTS: "Hello",
    MessageKind.SSML: "<speak>Hello</speak>",
    MessageKind.AUDIO_URL: "https://a.test/notice.wav",
    MessageKind.AUDIO_URL_COLUMN: "https://a.test/7.wav",
    MessageKind.PROMPT: "welcome",
}


def _call(kind: MessageKind, collect_dtmf: bool = False) -> CallRequest:
    message = RenderedMessage(kind, CONTENT[kind])
    return CallRequest("key-1", "+14155550123", "+14155550100", message, None, collect_dtmf)


@pytest.fixture(params=PROVIDERS, ids=str)
def adapter(request: pytest.FixtureRequest) -> ProviderAdapter:
    chosen = adapter_for(request.param)
    assert chosen.provider is request.param
    return chosen


GARBAGE = [
    b"",
    b" ",
    b"\xff\xfe\x00garbage",
    b"null",
    b"42",
    b'"ANSWERED"',
    b"[]",
    b'[{"voice_id": "v", "state": "connected"}]',
    b"{",
    b"{}",
    b"[" * 100_000,
    b'{"state": 5, "playstate": [], "voice_id": {"a": 1}}',
    b'{"voice_id": "v"}',
    b'{"voice_id": "v", "state": null, "timestamp": 12}',
    b'{"uid": ["u"], "status": {"s": 1}}',
    b'{"uid": "u", "status": 7, "disposition": false}',
    b'{"deliveryInfoNotification": "ANSWERED"}',
    b'{"deliveryInfoNotification": {"deliveryInfo": [], "transid": 5}}',
    b'{"deliveryInfoNotification": {"deliveryInfo": {"deliveryStatus": {}}, "transid": "t"}}',
    b'<?xml version="1.0"?><status>ANSWERED</status>',
    b"account_code=1&status=END&disposition=ANSWERED&uid=u",
]


@pytest.mark.parametrize("body", GARBAGE)
def test_a_webhook_body_never_raises(adapter: ProviderAdapter, body: bytes) -> None:
    result = adapter.parse_webhook(body, {"Content-Type": "application/json"})
    assert isinstance(result, CallEvent | Unparseable)
    if isinstance(result, Unparseable):
        assert result.reason


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_overload_and_server_errors_are_transient(adapter: ProviderAdapter, status: int) -> None:
    answer = adapter.parse_dial_answer(status, {"Retry-After": "12"}, b"<html>busy</html>")
    assert answer == Transient(f"HTTP {status}", 12.0)


def test_retry_after_as_a_date(adapter: ProviderAdapter) -> None:
    headers = {
        "retry-after": "Wed, 21 Oct 2026 07:29:00 GMT",
        "date": "Wed, 21 Oct 2026 07:28:00 GMT",
    }
    assert adapter.parse_dial_answer(429, headers, b"") == Transient("HTTP 429", 60.0)


@pytest.mark.parametrize("status", [301, 400, 401, 403, 404, 405, 409, 422])
def test_other_failures_are_refused(adapter: ProviderAdapter, status: int) -> None:
    assert adapter.parse_dial_answer(status, {}, b"Nope") == Refused(str(status), "Nope", status)


@pytest.mark.parametrize("body", [b"", b"OK", b"[]", b"{}", b"<html>accepted</html>"])
def test_a_2xx_that_cannot_be_read_is_refused(adapter: ProviderAdapter, body: bytes) -> None:
    answer = adapter.parse_dial_answer(200, {}, body)
    assert isinstance(answer, Refused)
    assert (answer.code, answer.status) == ("unreadable", 200)


def test_secrets_never_show_in_a_repr(adapter: ProviderAdapter) -> None:
    credentials = adapter.credentials(SECRETS)
    request = adapter.dial_request(_call(MessageKind.TTS), credentials)
    shown = repr(credentials) + str(credentials) + repr(request) + str(request)
    assert credentials.base_url in shown
    assert "5ec" not in shown
    assert "<hidden>" in repr(request)


@pytest.mark.parametrize("kind", list(MessageKind))
def test_every_kind_it_plays_is_dialled_and_the_others_refused(
    adapter: ProviderAdapter, kind: MessageKind
) -> None:
    credentials = adapter.credentials(SECRETS)
    if kind in adapter.capabilities.kinds:
        request = adapter.dial_request(_call(kind), credentials)
        assert (request.method, request.json is not None) == ("POST", True)
        assert request.url.startswith(credentials.base_url + "/")
        assert CONTENT[kind] in json.dumps(request.json)
    else:
        with pytest.raises(UnsupportedCall, match=f"cannot play a {kind} message"):
            adapter.dial_request(_call(kind), credentials)


def test_dtmf_only_where_the_provider_collects_it(adapter: ProviderAdapter) -> None:
    call = _call(MessageKind.TTS, collect_dtmf=True)
    credentials = adapter.credentials(SECRETS)
    if adapter.capabilities.collects_dtmf:
        assert adapter.dial_request(call, credentials).json is not None
    else:
        with pytest.raises(UnsupportedCall, match="cannot collect key presses"):
            adapter.dial_request(call, credentials)


def test_an_idempotency_key_wherever_the_provider_honours_one(adapter: ProviderAdapter) -> None:
    request = adapter.dial_request(_call(MessageKind.TTS), adapter.credentials(SECRETS))
    expected = "key-1" if adapter.capabilities.idempotent_dial else None
    assert request.headers.get("Idempotency-Key") == expected


def test_a_callback_request_only_where_the_callback_is_set_per_caller_id(
    adapter: ProviderAdapter,
) -> None:
    request = adapter.callback_request(
        "+13125550100", "https://h.test/hooks/x", adapter.credentials(SECRETS)
    )
    assert (request is not None) == adapter.capabilities.callback_per_caller_id


TTS = Message(MessageKind.TTS, "Hello {name}")
SSML = Message(MessageKind.SSML, "<speak>Hello {name}</speak>")
WAV = Message(MessageKind.AUDIO_URL, "https://example.com/a/notice.WAV")
MP3 = Message(MessageKind.AUDIO_URL, "https://example.com/notice.mp3")
OGG_HTTP = Message(MessageKind.AUDIO_URL, "http://example.com/notice.ogg")
COLUMN = Message(MessageKind.AUDIO_URL_COLUMN, "audio")
PROMPT = Message(MessageKind.PROMPT, "welcome")
FEMALE = Message(MessageKind.TTS, "Hello", voice="female", language="en-GB")
ARIA = Message(MessageKind.TTS, "Hello", voice="AriaNeural")


@pytest.mark.parametrize(
    ("provider", "message", "refusal"),
    [
        (Provider.ENABLEX, TTS, None),
        (Provider.ENABLEX, SSML, None),
        (Provider.ENABLEX, WAV, None),
        (Provider.ENABLEX, MP3, None),
        (Provider.ENABLEX, COLUMN, None),
        (Provider.ENABLEX, PROMPT, None),
        (Provider.ENABLEX, FEMALE, None),
        (Provider.ENABLEX, OGG_HTTP, "over HTTPS only"),
        (Provider.ENABLEX, ARIA, "enablex has no voice 'AriaNeural'"),
        (Provider.FRACTEL, TTS, None),
        (Provider.FRACTEL, SSML, None),
        (Provider.FRACTEL, WAV, None),
        (Provider.FRACTEL, COLUMN, None),
        (Provider.FRACTEL, OGG_HTTP, "plays only .wav files"),
        (Provider.FRACTEL, MP3, "plays only .wav files"),
        (Provider.FRACTEL, PROMPT, "fractel cannot play a prompt message"),
        (Provider.FRACTEL, FEMALE, "fractel has no voice 'female'"),
        (Provider.FRACTEL, Message(MessageKind.TTS, "Hi", language="en-US"), "no choice of TTS"),
        (Provider.WEBEX, TTS, None),
        (Provider.WEBEX, SSML, None),
        (Provider.WEBEX, WAV, None),
        (Provider.WEBEX, MP3, None),
        (Provider.WEBEX, COLUMN, None),
        (Provider.WEBEX, PROMPT, None),
        (Provider.WEBEX, FEMALE, None),
        (Provider.WEBEX, ARIA, None),
        (Provider.WEBEX, OGG_HTTP, "plays only .mp3 or .wav files"),
    ],
)
def test_capabilities_checked_before_a_campaign_is_created(
    provider: Provider, message: Message, refusal: str | None
) -> None:
    adapter = adapter_for(provider)
    if refusal is None:
        adapter.check_message(message)
    else:
        with pytest.raises(UnsupportedCall, match=refusal):
            adapter.check_message(message)


@pytest.mark.parametrize(
    ("provider", "caller_id", "refusal"),
    [
        (Provider.ENABLEX, "+442079460000", None),
        (Provider.WEBEX, "+919876543210", None),
        (Provider.FRACTEL, "+12025550143", None),
        (Provider.FRACTEL, "+16135550123", None),
        (Provider.FRACTEL, "+442079460000", r"fractel presents only \+1 caller IDs"),
    ],
)
def test_caller_ids_checked_before_a_campaign_is_created(
    provider: Provider, caller_id: str, refusal: str | None
) -> None:
    adapter = adapter_for(provider)
    if refusal is None:
        adapter.check_caller_id(caller_id)
    else:
        with pytest.raises(UnsupportedCall, match=refusal):
            adapter.check_caller_id(caller_id)
