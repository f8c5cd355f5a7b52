"""Calls-per-second pacing: never more than the cap in any one-second window, yet close to it.

The cap is judged where it matters, at the provider, over any one-second window [t, t+1) of the
times it receives our requests. A token bucket that allows a burst of `cap` lets nearly twice the
cap through in its first second (measured: `AsyncLimiter(500, 1)` passed 999 calls), so the pacer
spaces requests evenly instead: an aiolimiter bucket of about one token, refilled at a rate a few
percent under the cap. What that margin buys:

- `JITTER`: requests written evenly are not stamped evenly at the provider. The simulator dates
  a request's arrival from the kernel's TCP_INFO, in whole clock ticks (4 ms at HZ=250), so its
  stamps lie within 4 ms of the write either way, and two requests written d apart may be stamped
  d - 8 ms apart; on loopback the write itself arrives within microseconds. Measured (5,000
  requests, the dialer's write times against the ledger's stamps, load 14 on two cores): p1
  -3.4 ms, p99 +3.5 ms. 10 ms covers the ticks with 2 ms to spare. A few stamps were tens of ms
  out (4 of 5,000 beyond 30 ms: the stamping process or the tick itself delayed on a loaded
  machine); no margin of a few percent covers those (replayed onto a full pace of 20 calls/s they
  give 21 in a second with 10 ms or with the 30 ms used before);
- `TOLERANCE`: a task woken late by a busy event loop may catch up by that much, so lateness is not
  lost throughput (a bucket of exactly one token loses every late wake-up: 25% at 500 calls/s
  with 0.5 ms of lateness per call).

With rate r and tolerance tau, any half-open window of W seconds holds at most ceil((W + tau) r)
requests; at W = 1 + JITTER that is the cap. A fractional cap (2.5 calls/s) allows whole calls
only: at most 2 in any second. The pace is 98.5% of a whole cap.

A 429's Retry-After holds every request, not only the one that got it (`hold`).
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
from aiolimiter import AsyncLimiter

JITTER = 0.01  # seconds by which two arrival stamps may come closer than their writes
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


# Seconds before a second starts at which its slots are reserved: first each worker's share,
# then, half-way to the second, whatever its workers still need of what is left.
RESERVE_LEAD = 0.5
# Seconds between deletions of the pace rows of seconds gone by.
FORGET_EVERY = 30.0

Reserve = Callable[[int, int, int], Awaitable[tuple[int, int]]]
"""Reserves (second, want, size) -> (first slot index within the second, how many)."""


class SharedPacer:
    """The pace of a campaign dialed by several workers: the cap holds for their sum.

    The instants n / rate (seconds since the epoch, `rate` as in `Pace`) form one grid for the
    whole campaign; each second's instants are reserved by the workers in batches
    (`store.workers.reserve_slots`), and a request goes out at an instant its worker holds. So
    the requests of all the workers keep the spacing of one pacer, and any one-second window
    holds at most the cap. A batch of consecutive slots is spread over its second (slot k sits at
    position k * stride mod size), so a worker's share is not sent in one burst. A slot whose
    instant has passed by more than `TOLERANCE` is dropped, not sent late. Workers joining or
    leaving change the share each asks for first (`workers`); the rest goes to whoever needs it.
    What a worker needs (`demand`): its claims not sent yet, and more while its claims come full;
    at least the requests waiting for a turn (a request sent again after a 429 is one).
    Relies on the workers' clocks agreeing (NTP) to within a few milliseconds.
    """

    def __init__(
        self,
        cap: float,
        reserve: Reserve,
        demand: Callable[[], int],
        workers: Callable[[], int],
        forget: Callable[[int], Awaitable[None]],
    ) -> None:
        self.pace: Pace | None = Pace.for_cap(cap)
        self._rate = self.pace.rate
        self._reserve = reserve
        self._demand = demand
        self._workers = workers
        self._forget = forget
        self._slots: list[float] = []  # a heap of instants held (time.time())
        self._waiting = 0  # requests waiting for their turn (a request sent again among them)
        self._hold_until = 0.0
        self._granted = anyio.Event()
        self._needed = anyio.Event()
        self._queue = anyio.Lock()

    def hold(self, seconds: float) -> None:
        """Send nothing for `seconds` (a 429's Retry-After)."""
        self._hold_until = max(self._hold_until, time.monotonic() + seconds)

    def held(self) -> int:
        """Slots held whose instant has not passed."""
        now = time.time()
        return sum(1 for at in self._slots if at >= now - TOLERANCE)

    async def turn(self) -> None:
        self._waiting += 1
        try:
            await self._turn()
        finally:
            self._waiting -= 1

    async def _turn(self) -> None:
        while (wait := self._hold_until - time.monotonic()) > 0:
            await anyio.sleep(wait)
        async with self._queue:
            while True:
                now = time.time()
                while self._slots and self._slots[0] < now - TOLERANCE:
                    heapq.heappop(self._slots)  # too late to use without crowding the next
                if self._slots:
                    at = heapq.heappop(self._slots)
                    if at > now:
                        await anyio.sleep(at - now)
                        if time.time() > at + TOLERANCE:
                            continue  # woken too late (a busy loop, no CPU): not sent late
                    return
                granted = self._granted
                self._needed.set()  # a request waits with no slot: reserve in this second
                await granted.wait()

    async def run(self) -> None:
        """Reserve slots second after second, as this worker's requests need them."""
        forget_at = time.time() + FORGET_EVERY
        while True:
            second = math.floor(time.time()) + 1
            with anyio.move_on_after(second - RESERVE_LEAD - time.time()):
                await self._needed.wait()
            if self._needed.is_set():  # on starting, or after a lull: what is left of this one
                self._needed = anyio.Event()
                if time.time() < second - RESERVE_LEAD:
                    await self._take(second - 1, *_grid(second - 1, self._rate), self._share())
                continue
            first, size = _grid(second, self._rate)
            await self._take(second, first, size, self._share())
            await _sleep_until(second - RESERVE_LEAD / 2)
            await self._take(second, first, size, size)
            if time.time() >= forget_at:
                await self._forget(second - 60)
                forget_at = time.time() + FORGET_EVERY

    def _share(self) -> int:
        """This worker's share of a second's slots, asked for before the rest is shared out."""
        return math.ceil(self._rate / max(1, self._workers()))

    async def _take(self, second: int, first: int, size: int, most: int) -> None:
        want = min(most, max(self._demand(), self._waiting) - self.held())
        if want <= 0 or size <= 0:
            return
        start, count = await self._reserve(second, want, size)
        if not count:
            return
        stride = _stride(size)
        for k in range(start, start + count):
            heapq.heappush(self._slots, (first + k * stride % size) / self._rate)
        self._granted.set()
        self._granted = anyio.Event()


def _grid(second: int, rate: float) -> tuple[int, int]:
    """The grid instants n (at n / rate) in [second, second + 1): the first, and how many."""
    first = math.ceil(second * rate)
    return first, math.ceil((second + 1) * rate) - first


def _stride(size: int) -> int:
    """A step coprime with `size` near its golden section: consecutive slots spread evenly."""
    stride = max(1, round(size * 0.618))
    while math.gcd(stride, size) != 1:
        stride += 1
    return stride


async def _sleep_until(instant: float) -> None:
    await anyio.sleep(max(0.0, instant - time.time()))
