"""Calls-per-second pacing: never more than the cap in any one-second window, yet close to it.

The cap is judged where it matters, at the provider, over any one-second window [t, t+1) of the
times it receives our requests. A token bucket that allows a burst of `cap` lets nearly twice the
cap through in its first second (measured: `AsyncLimiter(500, 1)` passed 999 calls), so requests
are spaced evenly instead, on a grid of instants a little more than 1 / cap apart. The margins:

- `JITTER`: requests written evenly are not stamped evenly at the provider. The simulator dates
  a request's arrival from the kernel's TCP_INFO, in whole clock ticks (4 ms at HZ=250), so its
  stamps lie within 4 ms of the write either way, and two requests written d apart may be stamped
  d - 8 ms apart; on loopback the write itself arrives within microseconds. Measured (the
  dialer's write times against the ledger's stamps, three runs of 3,000-5,000 requests at loads
  of 11-14 on two cores): p1 -3.6 to -3.4 ms, p99 +3.2 to +3.5 ms, p0.1 -7.7 to -26 ms. 10 ms
  covers the ticks with 2 ms to spare. The few stamps tens of ms out (at worst -42 ms; 4 of 5,000
  beyond 30 ms in the busiest run: the stamping process or the tick itself delayed on a loaded
  machine) no margin of a few percent covers: replayed onto a full pace of 20 calls/s, that run's
  errors give 21 in a second with a margin of 10 ms and with the 30 ms used before. So no window
  of 1 + JITTER seconds may hold more than the cap's writes.
- `TOLERANCE`: the grid runs that much slower than JITTER alone would allow. Several workers
  (`SharedPacer`) use a slot up to that late and no later; one worker (`Pacer`) uses it to let a
  run of late requests fall back onto the grid.

With rate r and tolerance tau, any half-open window of W seconds holds at most ceil((W + tau) r)
uses of the grid; at W = 1 + JITTER that is the cap. A fractional cap (2.5 calls/s) allows whole
calls only: at most 2 in any second. The grid is 98.5% of a whole cap.

A 429's Retry-After holds every request, not only the one that got it (`hold`).
"""

from __future__ import annotations

import asyncio
import heapq
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio

JITTER = 0.01  # seconds by which two arrival stamps may come closer than their writes
TOLERANCE = 0.005  # seconds the grid leaves for lateness
CATCH_UP = 0.02  # seconds of one worker's lateness made up by sending at once


@dataclass(frozen=True)
class Pace:
    """The grid for a cap: at most `count` requests in any `span` seconds, `rate` aimed at."""

    cap: float
    count: int  # whole requests allowed ...
    span: float  # ... in any window of this many seconds: 1, or 1 / cap for a cap under 1
    rate: float  # requests per second actually aimed at

    @classmethod
    def for_cap(cls, cap: float) -> Pace:
        if cap <= 0:
            raise ValueError(f"a calls-per-second cap must be positive, not {cap}")
        count = max(1, math.floor(cap))
        span = count / min(cap, count)
        rate = count / (span + JITTER + TOLERANCE) * (1 - 1e-9)  # strictly under, for floats
        return cls(cap, count, span, rate)

    @property
    def window(self) -> float:
        """The window at the dialer that holds at most `count` writes."""
        return self.span + JITTER

    def most_in(self, seconds: float) -> int:
        """The most uses of the grid, each at most `TOLERANCE` late, in a window of `seconds`."""
        return math.ceil((seconds + TOLERANCE) * self.rate)


class Spacing:
    """One worker's turns, as arithmetic: when the next request may go, and the writes so far.

    Turns follow the grid. A request late for its instant (its task woken late by a busy event
    loop) goes at once and keeps the grid's phase, so the next ones follow at once until the grid
    is caught up, up to `CATCH_UP` behind: lateness is not lost throughput, as it is with a
    bucket (one token, and 0.5 ms of lateness a call, loses 25% at 500 calls/s). A request that
    came after its instant (none was waiting) starts the grid again from when it came. What
    keeps the catching up from crowding the provider is the writes themselves: a turn waits
    while the last `count` writes fall within one `window`. A write's time is noted after it
    happened (`written`); until then its turn counts as a write just now.
    """

    def __init__(self, pace: Pace) -> None:
        self.pace = pace
        self._next = -math.inf  # the grid's next instant
        self._writes: deque[float] = deque(maxlen=pace.count)  # the last ones, oldest first
        self._unnoted = 0  # turns whose write is not noted yet: the newest entries

    def free_at(self) -> float:
        """The earliest time the next turn may be taken (infinite: a write must be noted)."""
        if len(self._writes) < self.pace.count:
            return self._next
        return max(self._next, self._writes[0] + self.pace.window)

    def take(self, now: float, came: float) -> None:
        """A turn taken at `now` by a request that asked for it at `came`."""
        self._next = max(self._next, came, now - CATCH_UP) + 1 / self.pace.rate
        self._writes.append(math.inf)
        self._unnoted += 1

    def written(self, at: float) -> None:
        """The oldest turn not yet noted was written by `at`."""
        self._writes[-self._unnoted] = at
        self._unnoted -= 1


class Pacer:
    """Waits for the next request's turn: the provider's Retry-After, then the pace (`Spacing`).

    The request is written in the same step of the event loop as its turn is taken (nothing in
    between awaits; `Sender._ready`), so a callback scheduled with the turn runs after the write,
    and the time it notes is no earlier than the write's. (The one exception is rare: a request
    whose connection was closed while it waited for a first turn and again for a second is written
    on a third, opened after that turn; `HttpClient._when_ready`.)
    """

    def __init__(self, cap: float | None) -> None:
        self.pace = Pace.for_cap(cap) if cap else None
        self._spacing = Spacing(self.pace) if self.pace else None
        self._hold_until = 0.0
        self._queue = anyio.Lock()

    def hold(self, seconds: float) -> None:
        """Send nothing for `seconds` (a 429's Retry-After)."""
        self._hold_until = max(self._hold_until, time.monotonic() + seconds)

    async def turn(self) -> None:
        while (wait := self._hold_until - time.monotonic()) > 0:
            await anyio.sleep(wait)
        spacing = self._spacing
        if spacing is None:
            return
        came = time.monotonic()
        async with self._queue:
            while (wait := spacing.free_at() - time.monotonic()) > 0:
                await anyio.sleep(0 if wait == math.inf else wait)
            spacing.take(time.monotonic(), came)
            asyncio.get_running_loop().call_soon(_note_write, spacing)


def _note_write(spacing: Spacing) -> None:
    spacing.written(time.monotonic())


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
