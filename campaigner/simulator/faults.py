"""Fault injection: what goes wrong with a dial request, and with a call's webhooks. Pure.

`FaultPlan` is the configuration; `FaultInjector` makes the decisions, from a seeded generator in
the order requests arrive, and can be told at run time to fail or hang the next N requests (what
tests use). Its methods take the current time as an argument, so they need no clock of their own.

Order of checks on a dial request that passed authentication: the calls-per-second cap (429 with
Retry-After), then a 5xx burst, then a hang (the request is held open until the client gives up;
`hang_places_call` says whether the call was nevertheless placed).
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from ..errors import ValidationError
from .calls import Step
from .spans import Span


@dataclass(frozen=True)
class FaultPlan:
    cps_cap: float | None = None  # more admitted dial requests than this in any second -> 429
    retry_after: int = 1  # seconds, in the 429's Retry-After header
    error_rate: float = 0.0  # chance that a request starts a burst of 5xx answers
    error_burst: int = 1  # requests in such a burst
    error_status: int = 503
    hang_rate: float = 0.0  # chance that a request hangs
    hang_places_call: bool = True  # the ambiguous case: placed, but the client never hears so
    duplicate_rate: float = 0.0  # chance that a webhook is sent twice
    delay_rate: float = 0.0  # chance that a webhook is held back by an extra `delay`
    delay: Span = field(default_factory=lambda: Span(1.0, 5.0))
    reorder_rate: float = 0.0  # chance that a call's webhooks are sent in shuffled order

    def __post_init__(self) -> None:
        rates = ("error_rate", "hang_rate", "duplicate_rate", "delay_rate", "reorder_rate")
        for name in rates:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValidationError(f"fault {name} must be between 0 and 1")
        if self.cps_cap is not None and self.cps_cap <= 0:
            raise ValidationError("the calls-per-second cap must be positive")
        if self.error_burst < 1 or not 500 <= self.error_status <= 599:
            raise ValidationError("a 5xx burst needs a length >= 1 and a status in 500-599")


class Verdict(StrEnum):
    ADMIT = "admit"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    HANG = "hang"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    status: int = 200  # for SERVER_ERROR
    places_call: bool = False  # for HANG


ADMIT = Decision(Verdict.ADMIT)


class FaultInjector:
    """Decides each dial request's fate; thread-safe, since tests poke it from their own thread."""

    def __init__(self, plan: FaultPlan, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self.plan = plan
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._rng = random.Random(self._seed)
            self._admitted: deque[float] = deque()
            self._errors_left = 0
            self._error_status = self.plan.error_status
            self._hangs_left = 0
            self._hang_places = self.plan.hang_places_call

    def fail_next(self, count: int, status: int | None = None) -> None:
        """Answer the next `count` admitted dial requests with a 5xx."""
        with self._lock:
            self._errors_left = count
            self._error_status = status or self.plan.error_status

    def hang_next(self, count: int, places_call: bool | None = None) -> None:
        """Hold the next `count` admitted dial requests open, placing the call or not."""
        with self._lock:
            self._hangs_left = count
            self._hang_places = self.plan.hang_places_call if places_call is None else places_call

    def on_dial(self, now: float) -> Decision:
        """The fate of a dial request received at `now` (seconds)."""
        plan = self.plan
        with self._lock:
            if plan.cps_cap is not None:
                window = self._admitted
                while window and window[0] <= now - 1.0:
                    window.popleft()
                if len(window) >= plan.cps_cap:
                    return Decision(Verdict.RATE_LIMITED)
                window.append(now)
            if self._errors_left == 0 and plan.error_rate and self._rng.random() < plan.error_rate:
                self._errors_left = plan.error_burst
                self._error_status = plan.error_status
            if self._errors_left:
                self._errors_left -= 1
                return Decision(Verdict.SERVER_ERROR, status=self._error_status)
            if self._hangs_left == 0 and plan.hang_rate and self._rng.random() < plan.hang_rate:
                self._hangs_left = 1
                self._hang_places = plan.hang_places_call
            if self._hangs_left:
                self._hangs_left -= 1
                return Decision(Verdict.HANG, places_call=self._hang_places)
            return ADMIT


@dataclass(frozen=True)
class Timed:
    """A webhook in its sending order: when (seconds after the answer), and whether a repeat."""

    at: float
    step: Step
    duplicate: bool = False


@dataclass(frozen=True)
class WebhookFaults:
    """What happens to one call's webhooks, drawn from the call's own generator.

    `order` (a reordered call) says which event is sent in each event's time slot; a delayed
    event is sent its extra delay later, after any events that now come before it; a duplicated
    event is sent again right after itself.
    """

    order: tuple[int, ...] | None = None
    duplicated: frozenset[int] = frozenset()
    delays: Mapping[int, float] = field(default_factory=dict)

    @classmethod
    def draw(cls, plan: FaultPlan, rng: random.Random, events: int) -> WebhookFaults:
        if not (plan.reorder_rate or plan.duplicate_rate or plan.delay_rate):
            return NO_WEBHOOK_FAULTS
        order = None
        if events > 1 and rng.random() < plan.reorder_rate:
            shuffled = list(range(events))
            rng.shuffle(shuffled)
            order = tuple(shuffled) if shuffled != sorted(shuffled) else tuple(reversed(shuffled))
        duplicated = frozenset(i for i in range(events) if rng.random() < plan.duplicate_rate)
        delays = {i: plan.delay.draw(rng) for i in range(events) if rng.random() < plan.delay_rate}
        return cls(order, duplicated, delays)

    def schedule(self, steps: Sequence[Step]) -> list[Timed]:
        order = self.order or range(len(steps))
        timed: list[Timed] = []
        for slot, index in enumerate(order):
            at = steps[slot].offset + self.delays.get(index, 0.0)
            timed.append(Timed(at, steps[index]))
            if index in self.duplicated:
                timed.append(Timed(at, steps[index], duplicate=True))
        return sorted(timed, key=lambda t: t.at)  # stable: ties keep their order


NO_WEBHOOK_FAULTS = WebhookFaults()
