"""How long to wait before sending a dial request again after a transient failure.

Exponential with a ceiling and "equal jitter" (half the delay fixed, half random), so that many
requests failing together do not come back together; never shorter than the provider's
Retry-After. Pure: the random fraction is passed in, so the schedule is tested as a table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    base: float = 0.5  # seconds before the first retry (before jitter)
    factor: float = 2.0
    ceiling: float = 30.0

    def delay(self, failures: int, jitter: float, retry_after: float | None = None) -> float:
        """Seconds to wait after the `failures`-th consecutive failure (1 = the first).

        `jitter` is a fraction in [0, 1): 0 waits half the exponential delay, ~1 all of it.
        """
        if failures < 1:
            raise ValueError(f"failures counts from 1, not {failures}")
        if not 0.0 <= jitter < 1.0:
            raise ValueError(f"jitter must be in [0, 1), not {jitter}")
        full = min(self.ceiling, self.base * self.factor ** (failures - 1))
        wait = full / 2 + full / 2 * jitter
        return max(wait, retry_after or 0.0)
