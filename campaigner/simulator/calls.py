"""The words the provider dialects and the exchange share: a refusal, a dial request, a placed
call, and a call's plan (the webhooks to send, and when). Pure data and formatting, no I/O."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard

from ..model import Outcome

if TYPE_CHECKING:
    from .config import Credentials, SimulatorConfig

JsonObject = dict[str, Any]
_E164_DIGITS = re.compile(r"^\+?(\d{7,15})$")


@dataclass(frozen=True)
class Refusal:
    """A vendor's error answer: HTTP status, its JSON body, and its code for the ledger."""

    status: int
    body: JsonObject
    code: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Callback:
    """Where a call's webhooks go. `method` is Fractel's: JSON (a JSON body), POST (the fields in
    the query string and a JSON body) or GET (the fields in the query string)."""

    url: str
    method: str = "JSON"
    auth: tuple[str, str] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class DialRequest:
    """What a valid dial request asked for, whatever the vendor's words."""

    to: str  # E.164
    to_raw: str  # as the client wrote it; echoed in events
    caller_id: str  # as the client wrote it
    correlation: str | None = None
    callback: Callback | None = None
    dtmf: bool = False
    prompt_ref: str | None = None


@dataclass(frozen=True)
class Call:
    """A call the simulator placed."""

    provider: str
    call_id: str
    request: DialRequest
    outcome: Outcome
    attempt: int  # 0 for the first call placed to this number
    rng: random.Random = field(compare=False, repr=False)


@dataclass(frozen=True)
class Step:
    """One webhook: sent `offset` seconds after the dial request was answered."""

    offset: float
    event: str  # a short name for the ledger: `ringing`, `playfinished`, `END:BUSY`...
    payload: JsonObject


@dataclass(frozen=True)
class Plan:
    """A call's webhooks. With `awaits_hangup` (EnableX) the call stays up after the last step
    until the client hangs up or the simulator's hang-up timeout passes."""

    steps: tuple[Step, ...]
    awaits_hangup: bool = False


class Dialect(Protocol):
    """What each provider module (enablex, fractel, webex) offers the exchange."""

    PROVIDER: str
    PREFIX: str

    def authenticate(
        self, headers: Mapping[str, str], credentials: Credentials, at: datetime
    ) -> Refusal | None: ...

    def parse_dial(
        self, body: bytes, caller_ids: frozenset[str], at: datetime
    ) -> DialRequest | Refusal: ...

    def new_call_id(self) -> str: ...

    def answer(self, call: Call, at: datetime) -> tuple[int, JsonObject]: ...

    def plan(self, call: Call, config: SimulatorConfig, start: datetime) -> Plan: ...

    def rate_limited(self, retry_after: int, at: datetime) -> Refusal: ...

    def server_error(self, status: int, at: datetime) -> Refusal: ...


_ENCODER = json.JSONEncoder(separators=(",", ":"))


def json_bytes(body: JsonObject) -> bytes:
    return _ENCODER.encode(body).encode()


def parse_json_object(body: bytes) -> JsonObject | None:
    """The request body as a JSON object, or None if it is not one."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def e164(raw: str) -> str | None:
    """`+14155550100` or `14155550100` as E.164; None if it is not 7-15 digits."""
    match = _E164_DIGITS.match(raw.strip()) if isinstance(raw, str) else None
    return f"+{match[1]}" if match else None


def text_field(body: JsonObject, name: str) -> str | None:
    """A non-empty string field, or None."""
    value = body.get(name)
    return value if isinstance(value, str) and value.strip() else None


def is_http_url(value: object, *, https_only: bool = False) -> TypeGuard[str]:
    schemes = ("https://",) if https_only else ("http://", "https://")
    return isinstance(value, str) and value.startswith(schemes) and len(value) > 8


def zulu(at: datetime, *, millis: bool = False) -> str:
    """`2020-02-16T10:52:00Z`, or with milliseconds `2020-02-05T07:34:23.596Z`."""
    text = at.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{at.microsecond // 1000:03d}Z" if millis else f"{text}Z"
