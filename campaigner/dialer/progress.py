"""Progress arithmetic and wording: the live display, the minute line, the JSON line. Pure.

`RateMeter` counts dial requests per second over a sliding span of seconds; `Snapshot` is what one
look at a run shows, and each format writes it its own way. Phone numbers never appear here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..durations import format_duration

# The outcomes the display names; the others are counted together as "other".
_SHOWN = (
    ("delivered", "delivered"),
    ("busy", "busy"),
    ("no_answer", "no answer"),
    ("failed", "failed"),
)


class RateMeter:
    """Events per second over the last `span` seconds, from their (monotonic) times."""

    def __init__(self, span: float = 10.0) -> None:
        self.span = span
        self._times: deque[float] = deque()

    def add(self, at: float) -> None:
        self._times.append(at)

    def rate(self, now: float) -> float:
        while self._times and self._times[0] <= now - self.span:
            self._times.popleft()
        return len(self._times) / self.span


@dataclass(frozen=True)
class Snapshot:
    campaign: str
    elapsed: float  # seconds since the run started
    dialled: int  # dial requests sent by this run (each attempt counted once)
    in_flight: int  # calls whose request is out or whose outcome is not known yet
    rate: float  # dial requests per second, lately
    cap: float | None  # the campaign's calls-per-second cap
    outcomes: Mapping[str, int] = field(default_factory=dict)  # this run's attempts by outcome
    pending: int | None = None  # contacts waiting to be called (None: not counted this time)
    next_due: datetime | None = None  # when the next waiting contact is due, if not now
    stopping: str | None = None  # why the run is winding down, while it does

    @property
    def other(self) -> int:
        shown = {name for name, _ in _SHOWN} | {"live"}
        return sum(count for outcome, count in self.outcomes.items() if outcome not in shown)

    def counts_words(self) -> str:
        words = [f"{label} {self.outcomes.get(name, 0):,}" for name, label in _SHOWN]
        if self.other:
            words.append(f"other {self.other:,}")
        return ", ".join(words)

    def rate_words(self) -> str:
        cap = f" (cap {self.cap:g})" if self.cap else ""
        return f"{self.rate:.1f} calls/s{cap}"

    def line(self) -> str:
        """One line, for logs and for a terminal-less run: once a minute."""
        parts = [
            f"{self.campaign}: dialled {self.dialled:,}",
            f"in flight {self.in_flight:,}",
            self.counts_words(),
            self.rate_words(),
        ]
        if self.pending is not None:
            parts.append(f"pending {self.pending:,}")
        if self.next_due is not None:
            parts.append(f"next due {_when(self.next_due)}")
        if self.stopping:
            parts.append(f"stopping: {self.stopping}")
        return ", ".join(parts)

    def block(self) -> list[str]:
        """The live display on a terminal: a few lines, redrawn in place."""
        lines = [
            f"campaign {self.campaign}  running {format_duration(round(self.elapsed))}",
            f"  dialled {self.dialled:,}   in flight {self.in_flight:,}   {self.rate_words()}",
            f"  {self.counts_words()}",
        ]
        waiting = []
        if self.pending is not None:
            waiting.append(f"pending {self.pending:,}")
        if self.next_due is not None:
            waiting.append(f"next due {_when(self.next_due)}")
        if waiting:
            lines.append("  " + ", ".join(waiting))
        if self.stopping:
            lines.append(f"  stopping: {self.stopping}")
        return lines

    def document(self) -> dict[str, Any]:
        """The JSON line."""
        return {
            "action": "progress",
            "campaign": self.campaign,
            "elapsed": round(self.elapsed, 1),
            "dialled": self.dialled,
            "in_flight": self.in_flight,
            "rate": round(self.rate, 2),
            "cap": self.cap,
            "outcomes": dict(self.outcomes),
            "pending": self.pending,
            "next_due": self.next_due.isoformat() if self.next_due else None,
            "stopping": self.stopping,
        }


def _when(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
