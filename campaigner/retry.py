"""What happens to a contact after a call ends: final, or tried again later.

A pure decision (no I/O, the clock passed in), so the whole policy is tested as a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .campaigns import RetryPolicy
from .model import RETRYABLE_OUTCOMES, ContactState, Outcome


@dataclass(frozen=True)
class RetryDecision:
    state: ContactState  # PENDING to try again, else the final state
    next_attempt_at: datetime | None  # when to try again; None when final

    @property
    def is_final(self) -> bool:
        return self.state.is_final


def decide(
    policy: RetryPolicy, outcome: Outcome, attempts_made: int, now: datetime
) -> RetryDecision:
    """The contact's next state after its attempt number `attempts_made` ended in `outcome`.

    Busy, no answer and failed are retried after the policy's delay for that outcome while
    attempts remain; everything else, and the last allowed attempt, is final with the outcome as
    the contact's state.
    """
    if outcome in RETRYABLE_OUTCOMES and attempts_made < policy.max_attempts:
        delay = timedelta(seconds=policy.delay_for(outcome))
        return RetryDecision(ContactState.PENDING, now + delay)
    return RetryDecision(ContactState(outcome.value), None)
