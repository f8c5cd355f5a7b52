"""The dialer's clock, injectable so that calling windows can be tested end to end.

Everything the dialer decides by the wall clock (is the window open, is a contact due, when does
`--until` arrive) asks a `Clock`. Tests pass a `ShiftedClock`: the real clock moved to a chosen
instant (a DST morning, a minute before midnight in Sydney) and optionally sped up, so that an
hour of waiting for a window takes a fraction of a second while everything else stays real.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, aware and in UTC."""

    def seconds_until(self, instant: datetime) -> float:
        """Real seconds to wait for this clock to reach `instant` (0 if it has)."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def seconds_until(self, instant: datetime) -> float:
        return max(0.0, (instant - self.now()).total_seconds())


class ShiftedClock:
    """Starts at `start` and runs `speed` times as fast as real time."""

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        if start.tzinfo is None:
            raise ValueError("a shifted clock needs an aware start time")
        if speed <= 0:
            raise ValueError(f"a clock's speed must be positive, not {speed}")
        self._start = start.astimezone(UTC)
        self._speed = speed
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._origin) * self._speed)

    def seconds_until(self, instant: datetime) -> float:
        return max(0.0, (instant - self.now()).total_seconds() / self._speed)

    def timestamp(self) -> float:
        """Unix time by this clock: what a simulator sharing it stamps its ledger with."""
        return self.now().timestamp()
