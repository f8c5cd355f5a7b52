"""Webex Connect Voice API v1, as the simulator speaks it (PROVIDERS.md,
seeds/webex-connect-voice-api-v1.txt, and the vendor's voice status codes).

Errors are `{code, message}` with the vendor's codes: 7000 invalid JSON, 7001 authentication
failed (401), 7002 service key missing, 7004 `Invalid parameter -  : <name>` (spelled like the
vendor's sample). An accepted request answers 202 with `{acceptedTime, messageId, correlationId}`.

An `Idempotency-Key` (at most 64 characters) seen on an accepted request less than an hour ago is
refused: the vendor documents the rejection but not its shape, so the simulator answers
409 Conflict with code `DUPLICATE_CODE` and places no call. A client that gets this knows its
first request was accepted.

Status receipts follow the vendor's samples: `deliveryInfoNotification.deliveryInfo` with
`deliveryStatus`, a `code` and `Description` (7407 OFFERED, 7408 ACCEPTED, 7519 ANSWERED,
7401 no answer, 7402 busy, 7406 rejected, 7409 dropped, 7410 disconnected, 7208 expired), and
`correlationid` (lower-case i, unlike the request's `correlationId`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

from ..model import Outcome
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

PROVIDER = "webex"
PREFIX = "/webex/v1"
IDEMPOTENCY_WINDOW = 3600.0
MAX_IDEMPOTENCY_KEY = 64
DUPLICATE_CODE = "7035"
AUDIO_TYPES = frozenset({"TTS", "URL", "MEDIA"})


def error(status: int, code: str, message: str) -> Refusal:
    return Refusal(status, {"code": code, "message": message}, code)


def invalid(name: str) -> Refusal:
    return error(400, "7004", f"Invalid parameter -  : {name}")


def authenticate(
    headers: Mapping[str, str], credentials: Credentials, at: datetime
) -> Refusal | None:
    key = headers.get("key")
    if not key:
        return error(400, "7002", "Service Key Missing")
    if key != credentials.webex_service_key:
        return error(401, "7001", "Authentication failed.")
    return None


def check_idempotency_key(key: str | None) -> Refusal | None:
    if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
        return invalid("Idempotency-Key")
    return None


def duplicate(key: str) -> Refusal:
    return error(
        409,
        DUPLICATE_CODE,
        f"Duplicate request: Idempotency-Key {key!r} was accepted less than an hour ago",
    )


def parse_dial(body: bytes, caller_ids: frozenset[str], at: datetime) -> DialRequest | Refusal:
    document = parse_json_object(body)
    if document is None:
        return error(400, "7000", "Invalid JSON")
    for name in ("callerId", "dialedNumber"):
        if not text_field(document, name):
            return invalid(name)
    to = e164(document["dialedNumber"])
    if to is None:
        return invalid("dialedNumber")
    problem = _audio_problem(document.get("audio"))
    if problem:
        return problem
    if e164(document["callerId"]) not in caller_ids:
        return invalid("callerId")
    callback_url = document.get("callbackUrl")
    if callback_url is not None and not is_http_url(callback_url):
        return invalid("callbackUrl")
    correlation = document.get("correlationId")
    return DialRequest(
        to=to,
        to_raw=document["dialedNumber"],
        caller_id=document["callerId"],
        correlation=correlation if isinstance(correlation, str) else None,
        callback=Callback(callback_url) if callback_url else None,
    )


def _audio_problem(audio: object) -> Refusal | None:
    if not isinstance(audio, dict):
        return invalid("audio")
    kind = audio.get("type")
    if kind not in AUDIO_TYPES:
        return invalid("audio.type")
    if kind == "TTS":
        if not text_field(audio, "text"):
            return invalid("audio.text")
        if audio.get("textFormat", "TEXT") not in ("TEXT", "SSML"):
            return invalid("audio.textFormat")
    if kind == "URL":
        location = audio.get("location")
        if not is_http_url(location) or not location.lower().split("?")[0].endswith(
            (".wav", ".mp3")
        ):
            return invalid("audio.location")
    if kind == "MEDIA" and not text_field(audio, "mediaId"):
        return invalid("audio.mediaId")
    return None


def answer(call: Call, at: datetime) -> tuple[int, JsonObject]:
    return 202, {
        "acceptedTime": at.isoformat(timespec="milliseconds"),
        "messageId": call.call_id,
        "correlationId": call.request.correlation or "",
    }


def new_call_id() -> str:
    return str(uuid.uuid4())


OFFERED = ("OFFERED", "7407", "Call offered")
ACCEPTED = ("ACCEPTED", "7408", "Call accepted")
ANSWERED = ("ANSWERED", "7519", "Answered")
RELEASED = ("RELEASED", "7410", "Call released")
DISCONNECTED = ("DISCONNECTED", "7410", "Disconnected")
NOT_ANSWERED = ("RELEASED", "7401", "No answer")
EXPIRED = ("EXPIRED", "7208", "Message expired")
BUSY = ("REJECTED", "7402", "Customer busy")
REJECTED = ("REJECTED", "7406", "Rejected")
DROPPED = ("DROPPED", "7409", "Call dropped")


def plan(call: Call, config: SimulatorConfig, start: datetime) -> Plan:
    timing, behaviour = config.timing, config.behaviour
    rng = call.rng
    ring = timing.ring_delay.draw(rng)
    end = ring + timing.play_duration.draw(rng)
    variant = behaviour.variants and rng.random() < 0.3
    outcome = call.outcome
    receipts: list[tuple[float, tuple[str, str, str]]]
    if outcome is Outcome.DELIVERED:
        receipts = [
            (0, OFFERED),
            (0, ACCEPTED),
            (ring, ANSWERED),
            (end, DISCONNECTED if variant else RELEASED),
        ]
    elif outcome is Outcome.BUSY:
        receipts = [(0, OFFERED), (ring, BUSY)]
    elif outcome is Outcome.NO_ANSWER:
        receipts = (
            [(ring, EXPIRED)] if variant else [(0, OFFERED), (0, ACCEPTED), (ring, NOT_ANSWERED)]
        )
    elif outcome is Outcome.FAILED:
        receipts = [(0, OFFERED), (ring, DROPPED)]
    else:  # Webex has no word for an invalid number: the network rejects the call
        receipts = [(0, OFFERED), (ring, REJECTED)]
    return Plan(tuple(_receipt(call, start, offset, *receipt) for offset, receipt in receipts))


def _receipt(call: Call, start: datetime, offset: float, status: str, code: str, text: str) -> Step:
    info = {
        "timeStamp": zulu(start + timedelta(seconds=offset), millis=True),
        "Description": text,
        "code": code,
        "deliveryChannel": "voice",
        "additionalInfo": "",
        "destination": call.request.to,
        "destinationType": "msisdn",
        "deliveryStatus": status,
    }
    body = {
        "deliveryInfoNotification": {
            "deliveryInfo": info,
            "subtid": "",
            "transid": call.call_id,
            "callbackData": "",
            "correlationid": call.request.correlation or "",
        }
    }
    return Step(offset, status, body)


def rate_limited(retry_after: int, at: datetime) -> Refusal:
    refusal = error(429, "429", "Too Many Requests")
    return Refusal(429, refusal.body, "429", {"Retry-After": str(retry_after)})


def server_error(status: int, at: datetime) -> Refusal:
    return error(status, str(status), "Service Unavailable" if status == 503 else "Internal Error")
