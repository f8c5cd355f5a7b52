"""Durations in seconds, fixed or drawn from a range: ring delays, latencies, webhook delays."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from ..errors import ValidationError

_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?)\s*)?$")


@dataclass(frozen=True)
class Span:
    """A duration in seconds: fixed (`low == high`) or drawn uniformly from `[low, high]`."""

    low: float = 0.0
    high: float = 0.0

    def __post_init__(self) -> None:
        if self.low < 0 or self.high < self.low:
            raise ValidationError(f"duration range {self.low}-{self.high} must be 0 <= low <= high")

    @classmethod
    def parse(cls, text: str) -> Span:
        """`0.2` (fixed) or `1-3` (a range), in seconds."""
        match = _SPAN.match(text)
        if not match:
            raise ValidationError(f"duration {text!r} must be seconds, like 0.2 or 1-3")
        low = float(match[1])
        return cls(low, float(match[2]) if match[2] else low)

    def draw(self, rng: random.Random) -> float:
        return self.low if self.low == self.high else rng.uniform(self.low, self.high)

    def describe(self) -> str:
        return f"{self.low:g}s" if self.low == self.high else f"{self.low:g}-{self.high:g}s"


NO_DELAY = Span()
