"""Fractel FoneStorm API, as the simulator speaks it (PROVIDERS.md, seeds/fractel-send-call.txt).

The vendor documents status codes but no error body; the simulator answers
`{"error": {"code": <status>, "message": ...}}`. Numbers follow the vendor's dialing rules:
non-digits are ignored, `to` must then be 7-15 digits, dialed as 1 + 10 digits in the US or
011 + country code + number abroad; anything else is refused (400) rather than misdialed, so a
client sending E.164 digits for a foreign number hears about it.

Call events go to the URL set per FoneNumber with `POST /calls/send_notify`, not per call:
`BEGIN` (with an empty disposition) when the call starts, `END` with the disposition.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import datetime

from ..model import Outcome
from .calls import (
    Call,
    Callback,
    DialRequest,
    JsonObject,
    Plan,
    Refusal,
    Step,
    is_http_url,
    parse_json_object,
    text_field,
)
from .config import Credentials, SimulatorConfig

PROVIDER = "fractel"
PREFIX = "/fractel/v2"
SERVICE_TYPES = frozenset({"TTS", "SoundFile", "Phonenumber", "Device", "VoiceMail"})
NOTIFY_TYPES = {"none": "None", "callback": "Callback", "email": "Email"}
NOTIFY_METHODS = frozenset({"GET", "POST", "JSON"})
_NON_DIGITS = re.compile(r"\D")


def error(status: int, message: str) -> Refusal:
    return Refusal(status, {"error": {"code": status, "message": message}}, str(status))


def authenticate(
    headers: Mapping[str, str], credentials: Credentials, at: datetime
) -> Refusal | None:
    token = headers.get("token")
    if not token:
        return error(401, "Unauthorized: the `token` header is missing")
    if token != credentials.fractel_token:
        return error(401, "Unauthorized: invalid API token")
    return None


def dialed_to_e164(raw: str) -> str | Refusal:
    """The E.164 number that `raw` dials under FoneStorm's rules, or why it cannot be dialed."""
    digits = _NON_DIGITS.sub("", raw)
    if not 7 <= len(digits) <= 15:
        return error(400, f"`to` {raw!r} must be a phone number of 7 to 15 digits")
    if digits.startswith("011") and len(digits) >= 10:
        return f"+{digits[3:]}"
    if digits.startswith("1") and len(digits) == 11:
        return f"+{digits}"
    return error(400, f"`to` {raw!r}: dial 1 + 10 digits in the US, 011 + country code abroad")


def fonenumber_e164(raw: object) -> str | None:
    """A FoneNumber (a US number: 10 digits, or 1 + 10) as E.164."""
    digits = _NON_DIGITS.sub("", raw) if isinstance(raw, str) else ""
    if len(digits) == 10:
        digits = f"1{digits}"
    return f"+{digits}" if len(digits) == 11 and digits.startswith("1") else None


def parse_dial(body: bytes, caller_ids: frozenset[str], at: datetime) -> DialRequest | Refusal:
    document = parse_json_object(body)
    if document is None:
        return error(400, "Bad Request: the body must be a JSON object")
    for name in ("fonenumber", "to", "service_type", "service_id"):
        if not text_field(document, name):
            return error(400, f"Bad Request: `{name}` is required")
    service_type, service_id = document["service_type"], document["service_id"]
    if service_type not in SERVICE_TYPES:
        return error(
            400, f"Bad Request: service_type must be one of {', '.join(sorted(SERVICE_TYPES))}"
        )
    if service_type == "SoundFile" and not (
        is_http_url(service_id) and service_id.lower().split("?")[0].endswith(".wav")
    ):
        return error(400, "Bad Request: a SoundFile service_id must be the URL of a WAV file")
    to = dialed_to_e164(document["to"])
    if isinstance(to, Refusal):
        return to
    if fonenumber_e164(document["fonenumber"]) not in caller_ids:
        return error(404, f"FoneNumber {document['fonenumber']!r} is not on this account")
    return DialRequest(to=to, to_raw=document["to"], caller_id=document["fonenumber"])


def parse_send_notify(
    body: bytes, caller_ids: frozenset[str]
) -> tuple[str, Callback | None] | Refusal:
    """`POST /calls/send_notify`: the FoneNumber (E.164) and its new callback (None: no events)."""
    document = parse_json_object(body)
    if document is None:
        return error(400, "Bad Request: the body must be a JSON object")
    number = fonenumber_e164(document.get("fonenumber"))
    if number is None or number not in caller_ids:
        return error(404, f"FoneNumber {document.get('fonenumber')!r} is not on this account")
    kind = NOTIFY_TYPES.get(str(document.get("type", "")).lower())
    if kind is None:
        return error(400, "Bad Request: type must be None, Callback or Email")
    if kind != "Callback":
        return number, None
    method, url = str(document.get("method", "")).upper(), document.get("url")
    if method not in NOTIFY_METHODS:
        return error(400, "Bad Request: method must be GET, POST or JSON for a Callback")
    if not is_http_url(url):
        return error(400, "Bad Request: url must be an http(s) URL for a Callback")
    user = document.get("username")
    auth = (user, str(document.get("password", ""))) if isinstance(user, str) and user else None
    return number, Callback(url, method, auth)


def send_notify_answer(number: str, callback: Callback | None) -> JsonObject:
    notify = {
        "type": "Callback" if callback else "None",
        "email": "",
        "url": callback.url if callback else "",
        "method": callback.method if callback else "",
    }
    return {"fonenumber": {"fonenumber": number[2:], "call_options": {"send_notify": notify}}}


def answer(call: Call, at: datetime) -> tuple[int, JsonObject]:
    return 200, {"call": {"id": call.call_id}}


def new_call_id() -> str:
    return uuid.uuid4().hex


_DISPOSITIONS: dict[Outcome, tuple[str, ...]] = {
    Outcome.DELIVERED: ("ANSWERED",),
    Outcome.BUSY: ("BUSY", "REJECTED"),
    Outcome.NO_ANSWER: ("NO_ANSWER", "CANCEL"),
    Outcome.FAILED: ("FAILED", "FAILED:503", "FAILED:480"),
    Outcome.INVALID_NUMBER: ("INVALID",),
}


def plan(call: Call, config: SimulatorConfig, start: datetime) -> Plan:
    timing, behaviour, account_code = config.timing, config.behaviour, config.account_code
    rng = call.rng
    ring = timing.ring_delay.draw(rng)
    end = ring + timing.play_duration.draw(rng) if call.outcome is Outcome.DELIVERED else ring
    choices = _DISPOSITIONS[call.outcome]
    disposition = rng.choice(choices) if behaviour.variants else choices[0]
    return Plan(
        (
            _event(call, account_code, 0.0, "BEGIN", ""),
            _event(call, account_code, end, "END", disposition),
        )
    )


def _event(call: Call, account_code: str, offset: float, status: str, disposition: str) -> Step:
    body: JsonObject = {
        "account_code": account_code,
        "direction": "OUTBOUND",
        "status": status,
        "from": _NON_DIGITS.sub("", call.request.caller_id),  # numbers as the vendor reads them
        "to": _NON_DIGITS.sub("", call.request.to_raw),
        "type": "VOICE",
        "disposition": disposition,
        "uid": call.call_id,
    }
    return Step(offset, f"{status}:{disposition}" if disposition else status, body)


def rate_limited(retry_after: int, at: datetime) -> Refusal:
    refusal = error(429, "Too Many Requests: the account is limited in API requests per second")
    return Refusal(429, refusal.body, "429", {"Retry-After": str(retry_after)})


def server_error(status: int, at: datetime) -> Refusal:
    return error(status, "Service Unavailable" if status == 503 else "Internal Server Error")
