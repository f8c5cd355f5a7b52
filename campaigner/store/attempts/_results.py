"""What the attempt functions report back, and the values of `events.status`."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...model import Outcome, Provider
from ...providers import FollowUp, RenderedMessage


class EventStatus:
    """The values of `events.status`."""

    RECEIVED = "received"  # stored, not (yet) applied
    APPLIED = "applied"  # changed its attempt
    DUPLICATE = "duplicate"  # matched an attempt and changed nothing (a repeat, or too late)
    ORPHAN = "orphan"  # no attempt matches yet
    UNPARSEABLE = "unparseable"  # not an event of this provider; kept as received


@dataclass(frozen=True)
class AttemptFinished:
    """An attempt that got its outcome in this transaction."""

    attempt_id: int
    contact_id: int
    campaign_id: int
    outcome: Outcome


@dataclass(frozen=True)
class FollowUpNeeded:
    """A request the provider needs about a call (EnableX: hang up after the message)."""

    attempt_id: int
    provider: Provider
    call_id: str
    follow_up: FollowUp
    replay: RenderedMessage | None = None  # what to play again (FollowUp.REPLAY)
    key_timeout: int | None = None


@dataclass(frozen=True)
class Applied:
    """What a batch of changes did."""

    finished: list[AttemptFinished]
    follow_ups: list[FollowUpNeeded]
    opted_out: list[str] = field(default_factory=list)  # numbers put on the do-not-call list

    @staticmethod
    def merge(*parts: Applied) -> Applied:
        return Applied(
            [item for part in parts for item in part.finished],
            [item for part in parts for item in part.follow_ups],
            [item for part in parts for item in part.opted_out],
        )


NOTHING = Applied([], [])
