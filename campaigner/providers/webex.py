"""Webex Connect Voice API v1: dial, read its answers and its status receipts.

On the wire (PROVIDERS.md and the vendor's "Make Outbound Calls Using Voice API v1" page):
`POST {base}/voice/messages` (base `https://api.{region}.webexconnect.io/v1`) with the service key
in a `key` header, numbers in E.164, our correlation key as `correlationId` (echoed back as
`correlationid`) and as `Idempotency-Key` (at most 64 characters; the platform rejects a repeat
within an hour), and `audio` = TTS (`textFormat` TEXT or SSML), URL (wav or mp3) or MEDIA (an
uploaded media item, our "prompt"). The answer is `{acceptedTime, messageId, correlationId}`;
errors are `{code, message}`. Receipts posted to `callbackUrl` look like
`{deliveryInfoNotification: {deliveryInfo: {deliveryStatus, code, Description, timeStamp, ...},
transid, correlationid, callbackData}}`, `transid` being the `messageId`.

A TTS voice is an Azure neural voice name: `male` or `female` (the default) pick `GuyNeural` or
`AriaNeural` with that gender; any other name is sent as it is, with the platform's default gender
FEMALE. The platform substitutes its defaults for values it does not know.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..model import MessageKind, Outcome, Provider
from . import _parsing
from .base import (
    Accepted,
    CallEvent,
    CallRequest,
    Capabilities,
    Credentials,
    DialAnswer,
    EventKind,
    HttpRequest,
    Progress,
    ProviderAdapter,
    Refused,
    Unparseable,
    UnsupportedCall,
    WebhookResult,
)

DEFAULT_BASE_URL = "https://api.us.webexconnect.io/v1"
DEFAULT_LANGUAGE = "en-US"
MAX_IDEMPOTENCY_KEY = 64
# voice as a campaign may name it -> (Azure voice, gender)
_GENDER_VOICES: Mapping[str, tuple[str, str]] = {
    "female": ("AriaNeural", "FEMALE"),
    "male": ("GuyNeural", "MALE"),
}

# deliveryStatus -> (kind, progress, outcome), from PROVIDERS.md's table and the statuses' meaning:
# OFFERED: the platform offered the call to the network; ACCEPTED: the network placed it;
# RELEASED (by the platform) and DISCONNECTED (by the callee) end the call: a hang-up to settle.
_STATUSES: Mapping[str, tuple[EventKind, Progress, Outcome | None]] = {
    "OFFERED": (EventKind.PROGRESS, Progress.ACCEPTED, None),
    "ACCEPTED": (EventKind.PROGRESS, Progress.RINGING, None),
    "ANSWERED": (EventKind.FINAL, Progress.ANSWERED, Outcome.DELIVERED),
    "REJECTED": (EventKind.FINAL, Progress.ENDED, Outcome.BUSY),
    "DROPPED": (EventKind.FINAL, Progress.ENDED, Outcome.FAILED),
    "RELEASED": (EventKind.FINAL, Progress.ENDED, None),
    "DISCONNECTED": (EventKind.FINAL, Progress.ENDED, None),
    "EXPIRED": (EventKind.FINAL, Progress.ENDED, Outcome.NO_ANSWER),
    "MESSAGE_EXPIRED": (EventKind.FINAL, Progress.ENDED, Outcome.NO_ANSWER),
}


class WebexAdapter(ProviderAdapter):
    provider = Provider.WEBEX
    default_base_url = DEFAULT_BASE_URL
    secret_setting = "service_key"
    capabilities = Capabilities(
        kinds=frozenset(MessageKind),
        collects_dtmf=False,  # a simple outbound message; key presses need a programmable flow
        voices=None,
        chooses_language=True,
        audio_suffixes=frozenset({".wav", ".mp3"}),
        https_only=False,
        idempotent_dial=True,
    )

    def dial_request(self, call: CallRequest, credentials: Credentials) -> HttpRequest:
        self.check_call(call)
        key = call.correlation_key
        if len(key) > MAX_IDEMPOTENCY_KEY:
            raise UnsupportedCall(
                f"Webex Connect takes an Idempotency-Key of at most {MAX_IDEMPOTENCY_KEY} "
                f"characters; correlation key {key!r} has {len(key)}"
            )
        body: dict[str, object] = {
            "callerId": call.caller_id,
            "dialedNumber": call.to,
            "audio": _audio(call),
            "correlationId": key,
        }
        if call.callback_url:
            body["callbackUrl"] = call.callback_url
        headers = {
            "key": credentials.secret,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Idempotency-Key": key,
        }
        return HttpRequest("POST", f"{credentials.base_url}/voice/messages", headers, body)

    def _read_accepted(self, document: Mapping[str, object]) -> DialAnswer:
        message_id = _parsing.text(document, "messageId")
        if message_id is not None:
            return Accepted(message_id)
        code, message = self._error_fields(document)
        if code is not None:
            return Refused(code, message or "no message", 200)
        return Refused("unreadable", f"answer has no messageId ({', '.join(document)})", 200)

    def _error_fields(self, document: Mapping[str, object]) -> tuple[str | None, str | None]:
        return _parsing.text(document, "code"), _parsing.text(document, "message", "description")

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookResult:
        document = _parsing.json_object(body)
        if document is None:
            return Unparseable(f"not a JSON object: {_parsing.excerpt(body)}")
        return read_receipt(document)


def read_receipt(document: Mapping[str, object]) -> WebhookResult:
    """One status receipt (`deliveryInfoNotification`)."""
    notification = _parsing.child(document, "deliveryInfoNotification")
    if notification is None:
        return Unparseable("a Webex Connect receipt has a deliveryInfoNotification object")
    call_id = _parsing.text(notification, "transid")
    key = _parsing.text(notification, "correlationid", "correlationId")
    if call_id is None and key is None:
        return Unparseable("a Webex Connect receipt names its transid or correlationid")
    info = _parsing.child(notification, "deliveryInfo") or {}
    status = _parsing.text(info, "deliveryStatus")
    if status is None:
        return Unparseable("a Webex Connect receipt has deliveryInfo.deliveryStatus")
    words = (status, _parsing.text(info, "code"), _parsing.text(info, "Description", "description"))
    reason = " ".join(word for word in words if word)
    occurred_at = _parsing.timestamp(info.get("timeStamp"))
    channel = _parsing.text(info, "deliveryChannel")
    known = _STATUSES.get(status.upper().replace(" ", "_"))
    if known is None or (channel is not None and channel.lower() != "voice"):
        return CallEvent(
            EventKind.INFO, call_id, key, provider_reason=reason, occurred_at=occurred_at
        )
    kind, progress, outcome = known
    return CallEvent(
        kind,
        call_id,
        key,
        progress=progress,
        outcome=outcome,
        provider_reason=reason,
        occurred_at=occurred_at,
    )


def _audio(call: CallRequest) -> dict[str, object]:
    message = call.message
    if message.kind is MessageKind.PROMPT:
        return {"type": "MEDIA", "mediaId": message.content}
    if message.kind in (MessageKind.AUDIO_URL, MessageKind.AUDIO_URL_COLUMN):
        return {"type": "URL", "location": message.content}
    named = message.voice or "female"
    voice, gender = _GENDER_VOICES.get(named.lower(), (named, "FEMALE"))
    return {
        "type": "TTS",
        "style": "NEURAL",
        "language": message.language or DEFAULT_LANGUAGE,
        "voice": voice,
        "gender": gender,
        "engine": "AZURE",
        "textFormat": "SSML" if message.kind is MessageKind.SSML else "TEXT",
        "text": message.content,
    }
