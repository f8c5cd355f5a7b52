"""The retry policy, as a table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from campaigner.campaigns import RetryPolicy
from campaigner.model import ContactState, Outcome
from campaigner.retry import decide

NOW = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
POLICY = RetryPolicy(
    max_attempts=3, delays={Outcome.BUSY: 60, Outcome.NO_ANSWER: 600, Outcome.FAILED: 30}
)


@pytest.mark.parametrize(
    ("outcome", "attempts_made", "state", "delay"),
    [
        (Outcome.DELIVERED, 1, ContactState.DELIVERED, None),
        (Outcome.DELIVERED, 3, ContactState.DELIVERED, None),
        (Outcome.BUSY, 1, ContactState.PENDING, 60),
        (Outcome.BUSY, 2, ContactState.PENDING, 60),
        (Outcome.BUSY, 3, ContactState.BUSY, None),
        (Outcome.NO_ANSWER, 1, ContactState.PENDING, 600),
        (Outcome.NO_ANSWER, 3, ContactState.NO_ANSWER, None),
        (Outcome.FAILED, 2, ContactState.PENDING, 30),
        (Outcome.FAILED, 3, ContactState.FAILED, None),
        (Outcome.FAILED, 4, ContactState.FAILED, None),
        (Outcome.INVALID_NUMBER, 1, ContactState.INVALID_NUMBER, None),
        (Outcome.REJECTED_REQUEST, 1, ContactState.REJECTED_REQUEST, None),
    ],
)
def test_decision(
    outcome: Outcome, attempts_made: int, state: ContactState, delay: int | None
) -> None:
    decision = decide(POLICY, outcome, attempts_made, NOW)
    assert decision.state is state
    expected = None if delay is None else NOW + timedelta(seconds=delay)
    assert decision.next_attempt_at == expected
    assert decision.is_final is (delay is None)


def test_a_single_attempt_policy_never_retries() -> None:
    policy = RetryPolicy(max_attempts=1)
    for outcome in Outcome:
        assert decide(policy, outcome, 1, NOW).is_final


def test_an_outcome_without_its_own_delay_uses_the_default() -> None:
    policy = RetryPolicy(max_attempts=2, delays={Outcome.BUSY: 5})
    assert decide(policy, Outcome.NO_ANSWER, 1, NOW).next_attempt_at == NOW + timedelta(hours=1)
