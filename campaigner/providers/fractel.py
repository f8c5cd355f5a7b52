"""Fractel FoneStorm API: dial, read its answers and its call notifications.

On the wire (PROVIDERS.md and the vendor's "Send Call" page): `POST {base}/calls` with a `token`
header and `fonenumber` (the caller ID: one of the account's FoneNumbers, which FoneStorm writes as
10 digits), `to` (digits only: `1` + 10 digits inside North America, `011` + country code + number
elsewhere, 7 to 15 digits in all), `service_type` `TTS` (text, SSML allowed) or `SoundFile` (a WAV
URL) and `service_id` (the text or the URL). The answer is `{"call": {"id": ...}}`, sent when the
call connects.

There is no correlation field and no idempotency key: calls are tied to attempts by call id only,
and a dial request that timed out may still have placed its call (`idempotent_dial` is False).
Notifications go to the FoneNumber's `send_notify` callback, set once per number rather than per
call (so `CallRequest.callback_url` is not sent): `{account_code, direction, status: BEGIN | END,
from, to, type, disposition, uid}`. The callback method must be `JSON` or `POST`, which both put
that JSON in the body (`POST` under a form content type, so the header is not consulted); `GET`
sends the fields in the query string only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import phonenumbers

from ..errors import ValidationError
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
    NumberNotDialable,
    Progress,
    ProviderAdapter,
    Refused,
    Unparseable,
    UnsupportedCall,
    WebhookResult,
)

DEFAULT_BASE_URL = "https://api.fonestorm.com/v2"
_NANP = 1  # North American Numbering Plan: the US, Canada and their neighbours share +1
_MIN_DIGITS, _MAX_DIGITS = 7, 15

# disposition -> outcome (PROVIDERS.md, "Our outcomes"); FAILED:<code> is FAILED too.
_DISPOSITIONS: Mapping[str, Outcome] = {
    "ANSWERED": Outcome.DELIVERED,
    "BUSY": Outcome.BUSY,
    "REJECTED": Outcome.BUSY,
    "NO_ANSWER": Outcome.NO_ANSWER,
    "CANCEL": Outcome.NO_ANSWER,
    "INVALID": Outcome.INVALID_NUMBER,
    "FAILED": Outcome.FAILED,
}


class FractelAdapter(ProviderAdapter):
    provider = Provider.FRACTEL
    default_base_url = DEFAULT_BASE_URL
    secret_setting = "token"
    capabilities = Capabilities(
        kinds=frozenset(
            {MessageKind.TTS, MessageKind.SSML, MessageKind.AUDIO_URL, MessageKind.AUDIO_URL_COLUMN}
        ),
        collects_dtmf=False,
        voices=frozenset(),  # FoneStorm's TTS takes only the text
        chooses_language=False,
        audio_suffixes=frozenset({".wav"}),
        https_only=False,
        idempotent_dial=False,
        caller_id_country_codes=frozenset({_NANP}),  # FracTEL's FoneNumbers
        callback_per_caller_id=True,  # send_notify, set on the FoneNumber
    )

    def dial_request(self, call: CallRequest, credentials: Credentials) -> HttpRequest:
        self.check_call(call)
        message = call.message
        audio = message.kind in (MessageKind.AUDIO_URL, MessageKind.AUDIO_URL_COLUMN)
        body = {
            "fonenumber": fonenumber(call.caller_id),
            "to": dial_digits(call.to),
            "service_type": "SoundFile" if audio else "TTS",
            "service_id": message.content,
        }
        headers = {
            "token": credentials.secret,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        return HttpRequest("POST", f"{credentials.base_url}/calls", headers, body)

    def callback_request(self, caller_id: str, url: str, credentials: Credentials) -> HttpRequest:
        """`POST /calls/send_notify`: the FoneNumber's notifications, as JSON, to `url`."""
        body = {
            "fonenumber": fonenumber(caller_id),
            "type": "Callback",
            "method": "JSON",  # the notification as a JSON body
            "url": url,
        }
        headers = {
            "token": credentials.secret,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        return HttpRequest("POST", f"{credentials.base_url}/calls/send_notify", headers, body)

    def _read_accepted(self, document: Mapping[str, object]) -> DialAnswer:
        call_id = _parsing.text(_parsing.child(document, "call") or {}, "id")
        if call_id is None:
            return Refused("unreadable", f"answer has no call.id ({', '.join(document)})", 200)
        return Accepted(call_id)

    def _error_fields(self, document: Mapping[str, object]) -> tuple[str | None, str | None]:
        # FoneStorm documents its errors by HTTP status only; read what a body may add.
        error = _parsing.child(document, "error") or document
        return (
            _parsing.text(error, "code"),
            _parsing.text(error, "message", "error", "msg", "detail"),
        )

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookResult:
        document = _parsing.json_object(body)
        if document is None:
            return Unparseable(f"not a JSON object: {_parsing.excerpt(body)}")
        return read_notification(document)


def read_notification(document: Mapping[str, object]) -> WebhookResult:
    """One FoneStorm call notification."""
    call_id = _parsing.text(document, "uid")
    if call_id is None:
        return Unparseable("a Fractel call notification names its call by uid")
    direction = (_parsing.text(document, "direction") or "OUTBOUND").upper()
    medium = (_parsing.text(document, "type") or "VOICE").upper()
    status = (_parsing.text(document, "status") or "").upper()
    disposition = _parsing.text(document, "disposition")
    if direction != "OUTBOUND" or medium != "VOICE":
        return CallEvent(EventKind.INFO, call_id, provider_reason=f"{direction} {medium} {status}")
    if status == "BEGIN":
        return CallEvent(
            EventKind.PROGRESS, call_id, progress=Progress.ACCEPTED, provider_reason="BEGIN"
        )
    if status == "END" or (not status and disposition):
        return CallEvent(
            EventKind.FINAL,
            call_id,
            progress=Progress.ENDED,
            outcome=disposition_outcome(disposition),
            provider_reason=disposition or "END",
        )
    return CallEvent(EventKind.INFO, call_id, provider_reason=f"status {status or 'missing'}")


def disposition_outcome(disposition: str | None) -> Outcome | None:
    """Our outcome for a disposition; None (a hang-up to settle) when it says nothing we know."""
    if disposition is None:
        return None
    word = disposition.strip().upper()
    return _DISPOSITIONS.get(word.split(":", 1)[0])


def dial_digits(e164: str) -> str:
    """`to` as FoneStorm dials it: `1` + 10 digits in North America, else `011` + cc + number."""
    number = _parse(e164, NumberNotDialable)
    if number.country_code == _NANP:
        digits = f"1{phonenumbers.national_significant_number(number)}"
    else:
        written = phonenumbers.format_out_of_country_calling_number(number, "US")
        digits = re.sub(r"\D", "", written)
    if not _MIN_DIGITS <= len(digits) <= _MAX_DIGITS:
        raise NumberNotDialable(
            f"Fractel dials {_MIN_DIGITS} to {_MAX_DIGITS} digits and this number needs "
            f"{len(digits)} (+{number.country_code} dialled from the US)"
        )
    return digits


def fonenumber(e164: str) -> str:
    """The caller ID as FoneStorm writes a FoneNumber: its 10 digits, without the 1."""
    return str(phonenumbers.national_significant_number(_parse(e164, UnsupportedCall)))


def _parse(e164: str, error: type[ValidationError]) -> phonenumbers.PhoneNumber:
    try:
        return phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        raise error("not an E.164 phone number (+ and country code)") from None
