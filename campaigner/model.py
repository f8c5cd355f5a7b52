"""The words campaigner uses everywhere: outcomes, contact states, campaign states, message kinds.

Each is a `StrEnum` so that it is stored in the database, printed and compared as plain text.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """What became of one call, whatever the provider called it (see PROVIDERS.md)."""

    DELIVERED = "delivered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    INVALID_NUMBER = "invalid_number"
    REJECTED_REQUEST = "rejected_request"


# Outcomes that a campaign retries by default; the others are final at once.
RETRYABLE_OUTCOMES = frozenset({Outcome.BUSY, Outcome.NO_ANSWER, Outcome.FAILED})


class ContactState(StrEnum):
    """Where a contact stands in its campaign.

    A contact waiting for a retry is PENDING again (its `last_outcome` says why); a contact whose
    attempts are used up takes the state of its last outcome, which is final.
    """

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    DELIVERED = "delivered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    INVALID_NUMBER = "invalid_number"
    REJECTED_REQUEST = "rejected_request"
    SUPPRESSED = "suppressed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self not in (ContactState.PENDING, ContactState.IN_PROGRESS)


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class MessageKind(StrEnum):
    """What a callee hears."""

    TTS = "tts"  # a text template with {column} placeholders, spoken by the provider's TTS
    SSML = "ssml"  # an SSML template with {column} placeholders (values are XML-escaped)
    AUDIO_URL = "audio_url"  # one audio file for everyone
    AUDIO_URL_COLUMN = "audio_url_column"  # each contact's own audio file, from a CSV column
    PROMPT = "prompt"  # a prompt (EnableX) or media item (Webex Connect) stored at the provider


class TimezoneSource(StrEnum):
    """How a contact's time zone was chosen; reports show it so an operator can trust the window."""

    COLUMN = "column"  # given in the CSV
    NUMBER = "number"  # the number maps to exactly one zone
    DEFAULT = "default"  # the number maps to none or several zones: the campaign's default zone


class Provider(StrEnum):
    ENABLEX = "enablex"
    FRACTEL = "fractel"
    WEBEX = "webex"
