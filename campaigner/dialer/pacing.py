"""Calls-per-second pacing: never more than the cap in any one-second window, yet close to it.

The cap is judged where it matters, at the provider, over any one-second window [t, t+1) of the
times it receives our requests. A token bucket that allows a burst of `cap` lets nearly twice the
cap through in its first second (measured: `AsyncLimiter(500, 1)` passed 999 calls), so the pacer
spaces requests evenly instead: an aiolimiter bucket of about one token, refilled at a rate a few
percent under the cap. What that margin buys:

- `JITTER`: requests sent evenly can still arrive bunched (one waited a little longer for its
  connection, the provider's loop paused); even spacing at this rate leaves that much of a second
  free for it;
- `TOLERANCE`: a task woken late by a busy event loop may catch up by that much, so lateness is not
  lost throughput (a bucket of exactly one token loses every late wake-up: 25% at 500 calls/s
  with 0.5 ms of lateness per call).

With rate r and tolerance tau, any half-open window of W seconds holds at most ceil((W + tau) r)
requests; at W = 1 + JITTER that is the cap. A fractional cap (2.5 calls/s) allows whole calls
only: at most 2 in any second. The dialer reaches about 97% of a whole cap.

A 429's Retry-After holds every request, not only the one that got it (`hold`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import anyio
from aiolimiter import AsyncLimiter

JITTER = 0.03  # seconds of arrival jitter the spacing leaves room for
TOLERANCE = 0.005  # seconds of lateness a request may make up


@dataclass(frozen=True)
class Pace:
    """The aiolimiter settings for a cap: `AsyncLimiter(max_rate, time_period)`."""

    cap: float
    rate: float  # requests per second actually aimed at
    max_rate: float  # the bucket's size, in requests: 1 plus the tolerance
    time_period: float

    @classmethod
    def for_cap(cls, cap: float) -> Pace:
        if cap <= 0:
            raise ValueError(f"a calls-per-second cap must be positive, not {cap}")
        per_window = min(cap, max(1, math.floor(cap)))  # whole calls in any one second
        rate = per_window / (1 + JITTER + TOLERANCE) * (1 - 1e-9)  # strictly under, for floats
        max_rate = 1 + TOLERANCE * rate
        return cls(cap, rate, max_rate, max_rate / rate)

    def most_in(self, seconds: float) -> int:
        """The most requests this pace can send in any half-open window of `seconds`."""
        return math.ceil((seconds + TOLERANCE) * self.rate)


class Pacer:
    """Waits for the next request's turn: the provider's Retry-After, then the pace."""

    def __init__(self, cap: float | None) -> None:
        self.pace = Pace.for_cap(cap) if cap else None
        self._limiter = (
            AsyncLimiter(self.pace.max_rate, self.pace.time_period) if self.pace else None
        )
        self._hold_until = 0.0
        # Requests queue here for the bucket one at a time: aiolimiter re-arms its timer for
        # every waiter each time one leaves, which cost 0.2 ms a call with hundreds waiting.
        self._queue = anyio.Lock()

    def hold(self, seconds: float) -> None:
        """Send nothing for `seconds` (a 429's Retry-After)."""
        self._hold_until = max(self._hold_until, time.monotonic() + seconds)

    async def turn(self) -> None:
        while (wait := self._hold_until - time.monotonic()) > 0:
            await anyio.sleep(wait)
        if self._limiter is not None:
            async with self._queue:
                await self._limiter.acquire()
