"""The simulator's ledger: every dial request it received, every hang-up, every webhook it sent.

Tests and benchmarks check the dialer against it: no number called twice, never more than N calls
in any second, no call outside the callee's calling hours. It is thread-safe (the simulator may run
in a background thread while a test reads), can wait for a condition (`wait_until` from a thread,
`until` from a coroutine), and round-trips through JSON (`GET /_sim/ledger`, `Ledger.from_dict`).
"""

from __future__ import annotations

import asyncio
import bisect
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from ..windows import CallingWindow


class DialResult(StrEnum):
    PLACED = "placed"
    REFUSED = "refused"  # the vendor's error answer: auth, payload, caller ID...
    RATE_LIMITED = "429"
    SERVER_ERROR = "5xx"
    HUNG = "hung"  # held open until the client gave up; `placed` says if a call was placed
    REPEAT = "repeat"  # an Idempotency-Key seen before: no second call


class HangupKind(StrEnum):
    AFTER_PLAY = "after_play"  # DELETE after the message finished: what a client should do
    EARLY = "early"  # DELETE while the call was ringing or the message playing
    TIMEOUT = "timeout"  # the client never hung up; the simulator did after `hangup_timeout`


@dataclass(frozen=True, slots=True)
class DialRecord:
    seq: int
    received_at: float  # Unix time its first bytes arrived (`simulator.arrival`)
    provider: str
    result: DialResult
    to: str | None = None  # E.164, when the request named a readable number
    caller_id: str | None = None
    correlation: str | None = None  # owner_ref / correlationId; Fractel has none
    idempotency_key: str | None = None
    code: str | None = None  # the vendor's error code, or the HTTP status of a 429 / 5xx
    call_id: str | None = None  # voice_id / call id / messageId (a repeat: the first call's)
    placed: bool = False
    outcome: str | None = None  # what the placed call was set to end as
    attempt: int | None = None  # 0 for the first call placed to this number


@dataclass(frozen=True, slots=True)
class WebhookRecord:
    call_id: str
    provider: str
    event: str
    url: str
    sent_at: float  # Unix time of the first attempt
    attempts: int
    status: int | None  # the receiver's last HTTP status; None if it never answered
    delivered: bool
    duplicate: bool = False
    error: str | None = None


@dataclass(frozen=True, slots=True)
class HangupRecord:
    call_id: str
    at: float
    kind: HangupKind


Predicate = Callable[["Ledger"], bool]


class Ledger:
    def __init__(self) -> None:
        self._lock = threading.RLock()  # predicates read the ledger while `wait_until` holds it
        self._changed = threading.Condition(self._lock)
        self._async_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._dials: list[DialRecord] = []
        self._webhooks: list[WebhookRecord] = []
        self._hangups: list[HangupRecord] = []

    # Recording -------------------------------------------------------------------------------

    def record_dial(
        self, received_at: float, provider: str, result: DialResult, **details: Any
    ) -> DialRecord:
        with self._lock:
            record = DialRecord(len(self._dials), received_at, provider, result, **details)
            self._dials.append(record)
            self._notify()
        return record

    def record_webhook(self, record: WebhookRecord) -> None:
        with self._lock:
            self._webhooks.append(record)
            self._notify()

    def record_hangup(self, record: HangupRecord) -> None:
        with self._lock:
            self._hangups.append(record)
            self._notify()

    def clear(self) -> None:
        with self._lock:
            self._dials, self._webhooks, self._hangups = [], [], []
            self._notify()

    def _notify(self) -> None:
        self._changed.notify_all()
        for loop, event in self._async_waiters:
            loop.call_soon_threadsafe(event.set)

    # Waiting ---------------------------------------------------------------------------------

    def wait_until(self, predicate: Predicate, timeout: float = 10.0) -> None:
        """Block this thread until `predicate(ledger)` holds; TimeoutError after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"ledger condition not met within {timeout} s")
                self._changed.wait(remaining)

    async def until(self, predicate: Predicate, timeout: float = 10.0) -> None:
        """Wait in a coroutine until `predicate(ledger)` holds; TimeoutError after `timeout`."""
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._async_waiters.add(waiter)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    waiter[1].clear()
                    if predicate(self):
                        return
                    await waiter[1].wait()
        finally:
            with self._lock:
                self._async_waiters.discard(waiter)

    # Reading ---------------------------------------------------------------------------------

    @property
    def dials(self) -> list[DialRecord]:
        with self._lock:
            return list(self._dials)

    @property
    def webhooks(self) -> list[WebhookRecord]:
        with self._lock:
            return list(self._webhooks)

    @property
    def hangups(self) -> list[HangupRecord]:
        with self._lock:
            return list(self._hangups)

    def placed(self, provider: str | None = None) -> list[DialRecord]:
        """The dial requests that placed a call (including hung ones that did)."""
        return [d for d in self.dials if d.placed and provider in (None, d.provider)]

    def calls_per_number(self) -> Counter[str]:
        return Counter(d.to for d in self.placed() if d.to)

    def calls_per_correlation(self) -> Counter[str]:
        return Counter(d.correlation for d in self.placed() if d.correlation)

    def numbers_called_more_than_once(self) -> dict[str, int]:
        return {number: n for number, n in self.calls_per_number().items() if n > 1}

    def max_calls_in_any_second(self) -> int:
        """The most calls placed in any half-open second [t, t+1), sliding over receipt times."""
        return max_in_any_second(d.received_at for d in self.placed())

    def calls_outside_window(
        self, window: CallingWindow, zone_of: Callable[[str], ZoneInfo]
    ) -> list[DialRecord]:
        """Placed calls received when `window` was closed in the callee's zone."""
        return [
            d
            for d in self.placed()
            if d.to
            and not window.is_open(datetime.fromtimestamp(d.received_at, UTC), zone_of(d.to))
        ]

    def result_counts(self) -> Counter[str]:
        return Counter(d.result.value for d in self.dials)

    def outcome_counts(self) -> Counter[str]:
        return Counter(d.outcome for d in self.placed() if d.outcome)

    def webhooks_for(self, call_id: str) -> list[WebhookRecord]:
        return [w for w in self.webhooks if w.call_id == call_id]

    def never_hung_up(self) -> list[str]:
        """EnableX calls the client left up until the simulator's hang-up timeout."""
        return [h.call_id for h in self.hangups if h.kind is HangupKind.TIMEOUT]

    def summary(self) -> dict[str, Any]:
        webhooks = self.webhooks
        return {
            "dial_requests": len(self.dials),
            "results": dict(self.result_counts()),
            "calls_placed": len(self.placed()),
            "outcomes": dict(self.outcome_counts()),
            "numbers_called_more_than_once": len(self.numbers_called_more_than_once()),
            "max_calls_in_any_second": self.max_calls_in_any_second(),
            "webhooks_sent": len(webhooks),
            "webhooks_undelivered": sum(1 for w in webhooks if not w.delivered),
            "hangups": dict(Counter(h.kind.value for h in self.hangups)),
        }

    # JSON ------------------------------------------------------------------------------------

    def to_dict(self, *, webhooks: bool = True) -> dict[str, list[dict[str, Any]]]:
        """Every record as plain data; without `webhooks` the (largest) list is left empty."""
        with self._lock:
            return {
                "dials": [asdict(d) for d in self._dials],
                "webhooks": [asdict(w) for w in self._webhooks] if webhooks else [],
                "hangups": [asdict(h) for h in self._hangups],
            }

    @classmethod
    def from_dict(cls, data: dict[str, list[dict[str, Any]]]) -> Ledger:
        """A ledger read back from `GET /_sim/ledger`, to run the same checks out of process."""
        ledger = cls()
        ledger._dials = [_load(DialRecord, d, result=DialResult) for d in data["dials"]]
        ledger._webhooks = [_load(WebhookRecord, w) for w in data["webhooks"]]
        ledger._hangups = [_load(HangupRecord, h, kind=HangupKind) for h in data["hangups"]]
        return ledger


def max_in_any_second(times: Iterable[float]) -> int:
    """The most of `times` falling in any half-open window [t, t+1)."""
    ordered = sorted(times)
    best = 0
    for i, start in enumerate(ordered):
        best = max(best, bisect.bisect_left(ordered, start + 1.0, lo=i) - i)
    return best


def _load(record: type[Any], data: dict[str, Any], **enums: type[StrEnum]) -> Any:
    names = {f.name for f in fields(record)}
    values = {k: v for k, v in data.items() if k in names}
    for key, enum in enums.items():
        values[key] = enum(values[key])
    return record(**values)
