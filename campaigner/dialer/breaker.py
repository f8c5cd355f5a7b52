"""The circuit breaker: after N provider failures in a row, stop and pause the campaign.

A provider that answers every request with 5xx, or cannot be reached at all, is down; hammering it
helps nobody and hides the problem from the operator. Any answer that shows the provider working
(a call accepted, even a refusal) closes the count again. A 429 is the provider asking us to slow
down, not failing: it is honoured (Retry-After) and not counted.
"""

from __future__ import annotations


class CircuitBreaker:
    def __init__(self, threshold: int) -> None:
        if threshold < 1:
            raise ValueError(
                f"the circuit breaker needs a threshold of at least 1, not {threshold}"
            )
        self.threshold = threshold
        self.consecutive = 0
        self.last_failure: str | None = None

    @property
    def tripped(self) -> bool:
        return self.consecutive >= self.threshold

    def failure(self, reason: str) -> bool:
        """Count one failure; True when this one trips the breaker."""
        was_tripped = self.tripped
        self.consecutive += 1
        self.last_failure = reason
        return self.tripped and not was_tripped

    def success(self) -> None:
        if not self.tripped:
            self.consecutive = 0

    def describe(self) -> str:
        return (
            f"{self.consecutive} provider failures in a row (circuit breaker at "
            f"{self.threshold}); last: {self.last_failure}"
        )
