"""The one small interface every provider adapter implements, and the words they share.

An adapter is pure translation: it builds the HTTP request for a dial (`dial_request`), reads the
provider's answer to it (`parse_dial_answer`: Accepted, Refused or Transient), reads a webhook
body (`parse_webhook`: one `CallEvent`, or `Unparseable`) and names the request a follow-up needs
(`follow_up_request`). Sending, storing and deciding belong to the dialer and the receiver.

Events can arrive duplicated, late or out of order. Each carries the `Progress` it shows, which
only ever moves forward on an attempt, and `settle_outcome` decides an attempt's outcome from the
outcome it already has, the furthest progress it reached and one more event.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import phonenumbers

from ..campaigns import Message
from ..config import Settings
from ..errors import ValidationError
from ..model import MessageKind, Outcome, Provider
from ..responses import KeyMenu
from . import _parsing


class UnsupportedCall(ValidationError):
    """The provider cannot make this call as asked (message kind, voice, caller ID, key)."""


class NumberNotDialable(ValidationError):
    """The provider cannot express this number, so the contact cannot be called through it."""


# --- What the dialer asks for ---------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedMessage:
    """What one callee hears, ready to send: templates filled, the contact's audio URL chosen."""

    kind: MessageKind
    content: str  # the text or SSML document, the audio URL, or the prompt / media name
    voice: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class CallRequest:
    """One dial, as the dialer knows it once the attempt is committed."""

    correlation_key: str  # ours; echoed back by the providers that can, and the idempotency key
    to: str  # E.164
    caller_id: str  # E.164
    message: RenderedMessage
    callback_url: str | None = None  # where the provider posts its events, if it takes one per call
    collect_dtmf: bool = False
    key_timeout: int | None = None  # seconds to wait for a key, when collecting one


@dataclass(frozen=True)
class Credentials:
    """Where a provider's API is and the secrets it wants. `repr` shows only the URL."""

    base_url: str
    secret: str = field(repr=False)  # EnableX app key, Fractel API token, Webex service key
    account: str | None = field(default=None, repr=False)  # EnableX app id


_SECRET_HEADERS = frozenset({"authorization", "token", "key"})


@dataclass(frozen=True)
class HttpRequest:
    """A request to send with httpx. `repr` hides the headers that carry secrets, and the body,
    which holds the callee's number."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Mapping[str, Any] | None = None

    def __repr__(self) -> str:
        shown = {
            name: "<hidden>" if name.lower() in _SECRET_HEADERS else value
            for name, value in self.headers.items()
        }
        return f"HttpRequest(method={self.method!r}, url={self.url!r}, headers={shown!r}, json=…)"


# --- What the provider answers to a dial ----------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    """The provider took the call; its id ties later events to the attempt."""

    call_id: str


@dataclass(frozen=True)
class Refused:
    """The provider will not take calls like this one: pause the campaign with its own words."""

    code: str  # the provider's error code, else the HTTP status
    message: str
    status: int | None = None  # HTTP status of the answer


@dataclass(frozen=True)
class Transient:
    """Worth sending again later without using up an attempt (timeouts, 429, 5xx)."""

    reason: str
    retry_after: float | None = None  # seconds, when the provider said


DialAnswer = Accepted | Refused | Transient


# --- What a webhook says --------------------------------------------------------------------------


class Progress(StrEnum):
    """How far a call got, in order; stored in `attempts.progress` and never moved backwards."""

    REQUESTED = "requested"  # the attempt is committed and the dial request sent
    ACCEPTED = "accepted"  # the provider has the call (EnableX initiated, Webex OFFERED, ...)
    RINGING = "ringing"
    ANSWERED = "answered"
    PLAYING = "playing"
    PLAYED = "played"  # the message finished (or the callee pressed a key at the end of it)
    ENDED = "ended"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    @property
    def shows_answer(self) -> bool:
        """Whether reaching this point proves the callee picked up."""
        return Progress.ANSWERED.rank <= self.rank <= Progress.PLAYED.rank

    @staticmethod
    def furthest(current: Progress, seen: Progress | None) -> Progress:
        """The attempt's progress after an event: a late `ringing` never undoes `answered`."""
        return current if seen is None or seen.rank <= current.rank else seen


_RANKS = {progress: rank for rank, progress in enumerate(Progress)}


class EventKind(StrEnum):
    PROGRESS = "progress"  # the call moved on; no outcome yet
    FINAL = "final"  # the call's fate is known: `outcome`, or a hang-up to settle (settle_outcome)
    DTMF = "dtmf"  # keys pressed, nothing more
    INFO = "info"  # a known event that does not concern delivery (recording, bridge, inbound)


class FollowUp(StrEnum):
    """A request the provider needs from us after an event (see `follow_up_request`)."""

    HANG_UP = "hang_up"  # EnableX keeps the line open after the message: hang up ourselves
    REPLAY = "replay"  # no key was pressed: play the message once more (`replay_request`)


@dataclass(frozen=True)
class CallEvent:
    """One webhook (or one call lookup), in our words."""

    kind: EventKind
    call_id: str | None
    correlation_key: str | None = None
    progress: Progress | None = None  # how far the call had got; None when the event cannot say
    outcome: Outcome | None = None  # when this event alone decides it
    provider_reason: str | None = None  # the provider's own words, for reports
    dtmf: str | None = None
    occurred_at: datetime | None = None  # aware UTC, when the provider says
    follow_up: FollowUp | None = None
    no_key: bool = False  # a prompt that waited for a key ended without one (EnableX menutimeout)
    replayed: bool = False  # the event is about the message's replay, not its first play


@dataclass(frozen=True)
class Unparseable:
    """A webhook body that cannot be read as this provider's event; the raw body is kept anyway."""

    reason: str


WebhookResult = CallEvent | Unparseable


def settle_outcome(current: Outcome | None, furthest: Progress, event: CallEvent) -> Outcome | None:
    """The attempt's outcome once `event` is applied, given what the attempt already has.

    `current` is the attempt's outcome so far (None while the call is live) and `furthest` the
    furthest progress recorded *before* this event. The rules, the same for every provider:

    - An event naming an outcome gives it to an attempt that has none; the first outcome stays.
    - A hang-up (a FINAL event without an outcome: EnableX `disconnected`, Webex RELEASED or
      DISCONNECTED) is DELIVERED if the callee had answered, else NO_ANSWER.
    - Evidence of an answer (an answered progress, or DELIVERED) arriving after an attempt was
      settled as NO_ANSWER turns it into DELIVERED: the hang-up had overtaken the answer.
    """
    answered = furthest.shows_answer or (event.progress is not None and event.progress.shows_answer)
    if current is Outcome.NO_ANSWER and (answered or event.outcome is Outcome.DELIVERED):
        return Outcome.DELIVERED
    if current is not None:
        return current
    if event.outcome is not None:
        return event.outcome
    if event.kind is EventKind.FINAL:
        return Outcome.DELIVERED if answered else Outcome.NO_ANSWER
    return None


@runtime_checkable
class CallLookup(Protocol):
    """An adapter that can ask for a call's live state (EnableX), to reconcile lost events."""

    def lookup_request(self, call_id: str, credentials: Credentials) -> HttpRequest: ...

    def parse_lookup_answer(
        self, call_id: str, status: int, headers: Mapping[str, str], body: bytes
    ) -> CallEvent | Refused | Transient: ...


# --- What a provider can do -----------------------------------------------------------------------


@dataclass(frozen=True)
class Capabilities:
    """What a provider can do, so that `campaign create` refuses what no call could deliver."""

    kinds: frozenset[MessageKind]
    collects_dtmf: bool  # whether a call can collect a key press
    voices: frozenset[str] | None  # TTS voices one may name; None: any name the provider knows
    chooses_language: bool  # whether a TTS language can be set
    audio_suffixes: frozenset[str] | None  # file endings an audio URL may have; None: any
    https_only: bool  # whether audio must be fetched over HTTPS
    idempotent_dial: bool  # a repeat of a dial request (same key) cannot place a second call
    caller_id_country_codes: frozenset[int] | None = None  # None: a caller ID from anywhere
    max_key_timeout: int | None = None  # the longest wait for a key it can be asked for
    callback_per_caller_id: bool = False  # events go to a URL set on the caller ID, not per call

    def describe_kinds(self) -> str:
        return ", ".join(kind.value for kind in MessageKind if kind in self.kinds)


class ProviderAdapter(ABC):
    """Pure translation between campaigner and one provider's API; no I/O."""

    provider: Provider  # also the settings section of its credentials
    capabilities: Capabilities
    default_base_url: str
    secret_setting: str  # the settings key of the secret
    account_setting: str | None = None  # and of the account, for a provider that wants one

    def credentials(self, settings: Settings) -> Credentials:
        """The credentials from the settings; ConfigError names any that are missing.

        `base_url` may be overridden (a region, or the simulator); it is used without a final /.
        """
        section = self.provider.value
        account = self.account_setting
        return Credentials(
            base_url=(settings.get(section, "base_url") or self.default_base_url).rstrip("/"),
            secret=settings.require(section, self.secret_setting),
            account=settings.require(section, account) if account else None,
        )

    @abstractmethod
    def dial_request(self, call: CallRequest, credentials: Credentials) -> HttpRequest:
        """The request that places `call`; UnsupportedCall or NumberNotDialable if it cannot."""

    @abstractmethod
    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookResult:
        """One webhook body as an event; never raises, whatever the body."""

    @abstractmethod
    def _read_accepted(self, document: Mapping[str, object]) -> DialAnswer:
        """A 2xx answer's body: Accepted with the call id, or Refused."""

    @abstractmethod
    def _error_fields(self, document: Mapping[str, object]) -> tuple[str | None, str | None]:
        """The provider's (code, message) in an error body, where it puts them."""

    def callback_request(
        self, caller_id: str, url: str, credentials: Credentials
    ) -> HttpRequest | None:
        """The request that sends the call events of calls from `caller_id` to `url`, for a
        provider that takes its callback URL once per caller ID (`callback_per_caller_id`); None
        for one that takes it with each call (`CallRequest.callback_url`)."""
        return None

    def follow_up_request(self, event: CallEvent, credentials: Credentials) -> HttpRequest | None:
        """The request `event.follow_up` asks for; None when it asks for nothing."""
        return None

    def replay_request(
        self,
        call_id: str,
        message: RenderedMessage,
        key_timeout: int | None,
        credentials: Credentials,
    ) -> HttpRequest | None:
        """The request that plays `message` again on a live call, waiting for a key; None for a
        provider that cannot."""
        return None

    def parse_dial_answer(self, status: int, headers: Mapping[str, str], body: bytes) -> DialAnswer:
        """The provider's answer to a dial request: Accepted, Refused or Transient."""
        document = _parsing.json_object(body) or {}
        failure = self.failed_answer(status, headers, body, document)
        if failure is not None:
            return failure
        if not document:
            return Refused(
                "unreadable", f"answer is not a JSON object: {_parsing.excerpt(body)}", status
            )
        return self._read_accepted(document)

    def failed_answer(
        self,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        document: Mapping[str, object],
    ) -> Refused | Transient | None:
        """Transient for 408, 429 and 5xx, Refused for any other non-2xx status, else None."""
        if 200 <= status < 300:
            return None
        code, message = self._error_fields(document)
        if status in (408, 429) or status >= 500:
            said = ": ".join(part for part in (code, message) if part)
            reason = f"HTTP {status} ({said})" if said else f"HTTP {status}"
            return Transient(reason, _parsing.retry_after(headers))
        said = message or _parsing.excerpt(body) or f"HTTP {status} with an empty body"
        return Refused(code or str(status), said, status)

    def check_message(self, message: Message) -> None:
        """Refuse a message this provider cannot play (kind, voice, language, fixed audio URL)."""
        caps = self.capabilities
        if message.kind not in caps.kinds:
            raise UnsupportedCall(
                f"{self.provider.value} cannot play a {message.kind} message "
                f"(it plays: {caps.describe_kinds()})"
            )
        if message.kind is MessageKind.TTS:
            self._check_voice(message.voice, message.language)
        if message.kind is MessageKind.AUDIO_URL:
            self.check_audio_url(message.body)

    def check_keys(self, keys: KeyMenu) -> None:
        """Refuse a key menu or opt-out key this provider cannot collect."""
        caps = self.capabilities
        name = self.provider.value
        if not keys.collects_keys:
            return
        if not caps.collects_dtmf:
            raise UnsupportedCall(
                f"{name} cannot collect key presses, so a campaign on it cannot have --key or "
                "--opt-out-key (among campaigner's providers only enablex can)"
            )
        longest = caps.max_key_timeout
        if keys.key_timeout is not None and longest is not None and keys.key_timeout > longest:
            raise UnsupportedCall(
                f"{name} waits at most {longest} seconds for a key: --key-timeout "
                f"{keys.key_timeout} is too long"
            )

    def check_caller_id(self, caller_id: str) -> None:
        """Refuse a caller ID (E.164) from a country the provider cannot present numbers of."""
        codes = self.capabilities.caller_id_country_codes
        if codes is None:
            return
        try:
            country_code = phonenumbers.parse(caller_id, None).country_code
        except phonenumbers.NumberParseException:
            raise UnsupportedCall(f"caller ID {caller_id!r} is not an E.164 number") from None
        if country_code not in codes:
            allowed = " or ".join(f"+{code}" for code in sorted(codes))
            raise UnsupportedCall(
                f"{self.provider.value} presents only {allowed} caller IDs (its own numbers), "
                f"not {caller_id!r}"
            )

    def check_audio_url(self, url: str) -> None:
        """Refuse an audio URL this provider cannot fetch or play; also for each contact's own."""
        name = self.provider.value
        parts = urlsplit(url.strip())
        if self.capabilities.https_only and parts.scheme != "https":
            raise UnsupportedCall(f"{name} fetches audio over HTTPS only, not {url!r}")
        suffixes = self.capabilities.audio_suffixes
        if suffixes is not None and not parts.path.lower().endswith(tuple(suffixes)):
            endings = " or ".join(sorted(suffixes))
            raise UnsupportedCall(
                f"{name} plays only {endings} files; {url!r} does not end in {endings}"
            )

    def check_call(self, call: CallRequest) -> None:
        """What every dial request checks first: the message can be played, DTMF collected."""
        self.check_caller_id(call.caller_id)
        message = call.message
        if message.kind not in self.capabilities.kinds:
            raise UnsupportedCall(f"{self.provider.value} cannot play a {message.kind} message")
        if message.kind is MessageKind.TTS:
            self._check_voice(message.voice, message.language)
        if call.collect_dtmf and not self.capabilities.collects_dtmf:
            raise UnsupportedCall(f"{self.provider.value} cannot collect key presses")

    def _check_voice(self, voice: str | None, language: str | None) -> None:
        caps = self.capabilities
        if voice and caps.voices is not None and voice not in caps.voices:
            choices = ", ".join(sorted(caps.voices)) or "none: it has no choice of voice"
            raise UnsupportedCall(
                f"{self.provider.value} has no voice {voice!r} (voices: {choices})"
            )
        if language and not caps.chooses_language:
            raise UnsupportedCall(f"{self.provider.value} has no choice of TTS language")
