"""A campaign's definition: who calls, what they hear, how fast, how often, and when.

`CampaignSettings.validate()` checks everything that can be checked before a single call is made,
so that `campaign create` refuses a bad definition up front instead of failing mid-campaign.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from urllib.parse import urlsplit

import phonenumbers

from .errors import ValidationError
from .model import RETRYABLE_OUTCOMES, CampaignStatus, MessageKind, Outcome, Provider
from .responses import KeyMenu
from .templates import Template
from .windows import CallingWindow, zone_named

DEFAULT_RETRY_DELAYS: Mapping[Outcome, int] = MappingProxyType(
    {Outcome.BUSY: 600, Outcome.NO_ANSWER: 3600, Outcome.FAILED: 1800}
)


@dataclass(frozen=True)
class Message:
    kind: MessageKind
    body: str  # template, SSML template, URL, column name or prompt name: see MessageKind
    voice: str | None = None
    language: str | None = None

    def template(self) -> Template | None:
        """The parsed template for TTS and SSML messages; None for the other kinds."""
        if self.kind is MessageKind.TTS:
            return Template.parse(self.body)
        if self.kind is MessageKind.SSML:
            return Template.parse(self.body, escape_xml=True)
        return None

    def required_columns(self) -> tuple[str, ...]:
        """CSV columns every contact needs a value in for this message to be played."""
        if self.kind is MessageKind.AUDIO_URL_COLUMN:
            return (self.body,)
        template = self.template()
        return template.columns if template else ()

    def validate(self) -> None:
        if self.kind in (MessageKind.TTS, MessageKind.SSML):
            self.template()
            if self.kind is MessageKind.SSML and not self.body.lstrip().startswith("<speak"):
                raise ValidationError("an SSML message must start with <speak>")
        elif self.kind is MessageKind.AUDIO_URL:
            check_audio_url(self.body, "the audio URL")
        elif not self.body.strip():
            what = "column name" if self.kind is MessageKind.AUDIO_URL_COLUMN else "prompt name"
            raise ValidationError(f"the {what} is empty")


def check_audio_url(url: str, what: str) -> None:
    """Providers fetch audio over HTTP(S) from a public host: refuse anything else up front."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValidationError(f"{what} {url!r} is not an http(s) URL with a host")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    delays: Mapping[Outcome, int] = field(default_factory=lambda: DEFAULT_RETRY_DELAYS)

    def validate(self) -> None:
        if self.max_attempts < 1:
            raise ValidationError(f"max attempts must be at least 1, not {self.max_attempts}")
        for outcome, seconds in self.delays.items():
            if outcome not in RETRYABLE_OUTCOMES:
                raise ValidationError(f"{outcome} is final and is never retried")
            if seconds < 0:
                raise ValidationError(f"retry delay for {outcome} must not be negative")

    def delay_for(self, outcome: Outcome) -> int:
        return self.delays.get(outcome, DEFAULT_RETRY_DELAYS[outcome])


@dataclass(frozen=True)
class CampaignSettings:
    """What an operator defines with `campaign create`."""

    name: str
    provider: Provider
    caller_id: str  # E.164 once validated
    message: Message
    calls_per_second: float = 1.0
    max_in_flight: int = 10
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    window: CallingWindow = field(default_factory=lambda: CallingWindow.parse("09:00-20:00"))
    default_region: str | None = None
    default_timezone: str = "UTC"
    keys: KeyMenu = field(default_factory=KeyMenu)
    notify_url: str | None = None  # where outcome notifications are POSTed

    def validate(self) -> CampaignSettings:
        """Check every field; returns the settings with the caller ID in E.164."""
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 ._\-]{0,99}", self.name):
            raise ValidationError(
                f"campaign name {self.name!r} must be 1-100 letters, digits, spaces, dots, "
                "dashes or underscores, starting with a letter or digit"
            )
        if self.calls_per_second <= 0:
            raise ValidationError(f"calls per second must be above 0, not {self.calls_per_second}")
        if self.max_in_flight < 1:
            raise ValidationError(
                f"max calls in flight must be at least 1, not {self.max_in_flight}"
            )
        region = self.default_region.upper() if self.default_region else None
        if region and region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValidationError(f"default region {self.default_region!r} is not a known region")
        zone_named(self.default_timezone)
        self.message.validate()
        self.retry.validate()
        self.keys.validate()
        if self.notify_url is not None:
            parts = urlsplit(self.notify_url)
            if parts.scheme not in ("https", "http") or not parts.hostname:
                raise ValidationError(
                    f"--notify-url {self.notify_url!r} is not an http(s) URL with a host"
                )
        return replace(
            self, caller_id=caller_id_e164(self.caller_id, region), default_region=region
        )

    def played_message(self) -> Message:
        """The message as callees hear it: with the opt-out prompt appended to a TTS or SSML
        message that does not already say it (see `campaigner.responses`)."""
        message = self.message
        prompt = self.keys.opt_out_prompt()
        if prompt is None or self.keys.mentions_opt_out(message.body):
            return message
        if message.kind is MessageKind.TTS:
            return replace(message, body=f"{message.body.rstrip()} {prompt}")
        if message.kind is MessageKind.SSML:
            head, end, tail = message.body.rpartition("</speak>")
            if end:
                return replace(message, body=f"{head.rstrip()} {prompt}{end}{tail}")
        return message

    @property
    def opt_out_prompt_missing(self) -> bool:
        """An opt-out key with a recorded message that campaigner cannot append the prompt to."""
        return (
            self.keys.opt_out_key is not None
            and self.played_message() == self.message
            and (not self.keys.mentions_opt_out(self.message.body))
        )


def caller_id_e164(raw: str, region: str | None) -> str:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(f"caller ID {raw!r} is not a phone number: {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(f"caller ID {raw!r} is not a valid phone number")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


@dataclass(frozen=True)
class Campaign:
    """A campaign as stored."""

    id: int
    settings: CampaignSettings
    status: CampaignStatus
    status_reason: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def name(self) -> str:
        return self.settings.name
