"""Why a run stops, the exit code each reason gives, and what to do when nothing is due. Pure.

Exit codes, so that cron (or any scheduler) can simply run `campaigner run` again:

- 0: every contact is final (the campaign is completed);
- 3: an operator paused or cancelled the campaign (`campaigner campaign pause` / `cancel`);
- 69: the campaign paused itself: the provider refused a call, or the circuit breaker tripped;
- 75: work is left for later: the calling window closed, the next contact is due after
  --max-wait, or --max-duration / --until arrived, or this worker lost its lease (it stalled
  and another worker took over its work); run again later;
- 130: interrupted (Ctrl-C or SIGTERM); run again to go on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum


class ExitCode(IntEnum):
    DONE = 0
    OPERATOR = 3  # paused or cancelled by an operator
    PROVIDER = 69  # EX_UNAVAILABLE: paused by a provider refusal or the circuit breaker
    LATER = 75  # EX_TEMPFAIL: work left for a later run
    INTERRUPTED = 130  # 128 + SIGINT


class Stop(StrEnum):
    FINISHED = "finished"  # every contact is final
    NOTHING_DUE = "nothing_due"  # the next contact is due after --max-wait (window, retry delay)
    DEADLINE = "deadline"  # --max-duration or --until
    PAUSED = "paused"  # by an operator
    CANCELLED = "cancelled"  # by an operator
    REFUSED = "refused"  # the provider refused a call: the campaign is paused
    BREAKER = "breaker"  # too many provider failures in a row: the campaign is paused
    INTERRUPTED = "interrupted"  # SIGINT or SIGTERM
    LEASE_LOST = "lease_lost"  # another worker found this one dead and took over its work
    RECEIVER_LOST = "receiver_lost"  # the webhook receiver's process died: no call could end

    @property
    def exit_code(self) -> ExitCode:
        return _EXIT_CODES[self]


_EXIT_CODES = {
    Stop.FINISHED: ExitCode.DONE,
    Stop.NOTHING_DUE: ExitCode.LATER,
    Stop.DEADLINE: ExitCode.LATER,
    Stop.PAUSED: ExitCode.OPERATOR,
    Stop.CANCELLED: ExitCode.OPERATOR,
    Stop.REFUSED: ExitCode.PROVIDER,
    Stop.BREAKER: ExitCode.PROVIDER,
    Stop.INTERRUPTED: ExitCode.INTERRUPTED,
    Stop.LEASE_LOST: ExitCode.LATER,
    Stop.RECEIVER_LOST: ExitCode.LATER,
}


@dataclass(frozen=True)
class Finish:
    """Every contact is final."""


@dataclass(frozen=True)
class Wait:
    """Nothing to dial now: look again at `until` (None: after a short poll)."""

    until: datetime | None


@dataclass(frozen=True)
class Later:
    """Nothing to dial before `next_due`, which is too far off to wait for: exit 75."""

    next_due: datetime | None
    reason: Stop


Idle = Finish | Wait | Later


def when_idle(
    *,
    pending: int,
    in_progress: int,
    next_due: datetime | None,
    now: datetime,
    max_wait: timedelta,
    deadline: datetime | None,
) -> Idle:
    """What to do when no contact is due and none of this run's calls is live.

    `pending` / `in_progress` count the campaign's contacts in those states (in progress here means
    another worker's call, or one left live by a run that died: it ends by webhook or call timeout);
    `next_due` is the soonest `next_attempt_at` of a pending contact.
    """
    if pending == 0:
        return Finish() if in_progress == 0 else Wait(None)
    if next_due is None or next_due <= now:
        return Wait(None)  # due already: a claim raced with this look; try again
    if deadline is not None and next_due >= deadline:
        return Later(next_due, Stop.DEADLINE)
    if next_due - now > max_wait:
        return Later(next_due, Stop.NOTHING_DUE)
    return Wait(next_due)
