"""One worker's pace (`Spacing`), driven through tables of lateness in simulated time."""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable
from itertools import pairwise

import pytest

from campaigner.dialer.pacing import CATCH_UP, JITTER, Pace, Spacing

CAPS = [0.5, 1, 2.5, 5, 20, 50, 500, 5000]


def most_in_any_window(times: list[float], seconds: float) -> int:
    ordered = sorted(times)
    return max(bisect.bisect_left(ordered, t + seconds, lo=i) - i for i, t in enumerate(ordered))


def writes(
    pace: Pace,
    turns: int,
    late: Callable[[int], float] = lambda _: 0.0,
    delay: Callable[[int], float] = lambda _: 0.0,
    came: Callable[[int, float], float] = lambda _, __: 0.0,
) -> list[float]:
    """Write times of `turns` requests taken through `Spacing` as one event loop would: turn k
    is taken `late(k)` after it was free, written `delay(k)` after that (the loop stalled between
    them), its write noted then, and the next turn comes after the write. `came(k, now)`: when
    request k asked for its turn (by default at the start: requests always waiting)."""
    spacing = Spacing(pace)
    now, times = 0.0, []
    for k in range(turns):
        free = spacing.free_at()
        assert free < math.inf  # every write before this turn was noted
        now = max(now, free) + late(k)
        spacing.take(now, min(now, came(k, now)))
        now += delay(k)
        spacing.written(now)
        times.append(now)
    return times


def stalls(every: int, seconds: float) -> Callable[[int], float]:
    return lambda k: seconds if k % every == every - 1 else 0.0


def random_lateness(seed: int, most: float) -> Callable[[int], float]:
    rng = random.Random(seed)
    return lambda _: rng.choice((0.0, 0.0, 0.0, rng.uniform(0, most)))


LATENESS = {
    "on time": {},
    "every 7th turn late by a third of CATCH_UP": {"late": stalls(7, CATCH_UP / 3)},
    "a 0.3 s stall every 97 turns": {"late": stalls(97, 0.3)},
    "random lateness up to 2 CATCH_UPs": {"late": random_lateness(1, 2 * CATCH_UP)},
    "writes delayed after their turns": {"delay": random_lateness(2, 0.05)},
    "both": {"late": random_lateness(3, 0.05), "delay": random_lateness(4, 0.05)},
}


@pytest.mark.parametrize("cap", CAPS)
@pytest.mark.parametrize("lateness", LATENESS)
def test_no_window_of_one_second_and_the_jitter_holds_more_than_the_cap(
    cap: float, lateness: str
) -> None:
    pace = Pace.for_cap(cap)
    times = writes(pace, int(cap * 4) + 10, **LATENESS[lateness])
    assert most_in_any_window(times, pace.span + JITTER) <= pace.count
    assert pace.most_in(pace.span + JITTER) <= pace.count


@pytest.mark.parametrize(("cap", "most"), [(0.5, 1), (1, 1), (2.5, 2), (50, 50)])
def test_a_fractional_cap_allows_whole_calls(cap: float, most: int) -> None:
    pace = Pace.for_cap(cap)
    assert most_in_any_window(writes(pace, int(cap * 4) + 10), 1.0) == most


@pytest.mark.parametrize("cap", [5, 50, 500, 1000])
def test_the_pace_aims_above_98_percent_of_a_whole_cap(cap: float) -> None:
    assert Pace.for_cap(cap).rate >= 0.98 * cap


@pytest.mark.parametrize("cap", [50, 200, 500])
def test_lateness_within_catch_up_is_made_up_not_lost(cap: float) -> None:
    """Every 7th turn woken a third of CATCH_UP late: the turns after it go at once until the
    grid is caught up, so the rate is the grid's. (A bucket of one token loses all of it.)"""
    pace = Pace.for_cap(cap)
    turns = int(cap * 10)
    times = writes(pace, turns, late=stalls(7, CATCH_UP / 3))
    assert (turns - 1) / (times[-1] - times[0]) >= pace.rate * 0.999


def test_lateness_beyond_catch_up_is_lost_beyond_it_only() -> None:
    pace = Pace.for_cap(500)
    times = writes(pace, 1001, late=stalls(100, 0.1))  # 10 stalls of 100 ms
    expected = 1000 / pace.rate + 10 * (0.1 - CATCH_UP)
    assert times[-1] - times[0] == pytest.approx(expected, abs=CATCH_UP)


def test_a_request_that_came_after_its_instant_is_not_followed_by_a_burst() -> None:
    """After a lull (nobody waiting) the grid starts again from the request that came."""
    pace = Pace.for_cap(500)
    lull = stalls(10, 1.0)  # the 10th request comes a second after its instant
    times = writes(pace, 20, late=lull, came=lambda k, now: now if lull(k) else 0.0)
    assert min(b - a for a, b in pairwise(times[9:])) == pytest.approx(1 / pace.rate)


def test_a_turn_waits_for_the_write_of_the_turn_a_window_before_to_be_noted() -> None:
    """Until a write is noted, the turn that made it counts as a write just now."""
    spacing = Spacing(Pace.for_cap(1))
    spacing.take(10.0, 10.0)
    assert spacing.free_at() == math.inf
    spacing.written(10.3)  # the write came late after its turn (the loop stalled)
    assert spacing.free_at() == pytest.approx(10.3 + 1 + JITTER)
