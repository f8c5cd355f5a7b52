"""The dialer's pure parts, as tables: backoff, circuit breaker, stopping, the clock (pacing:
`test_pacing.py`); the garbage collector's settings while dialing."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta

import pytest

from campaigner.collection import fewer_collections
from campaigner.dialer.backoff import Backoff
from campaigner.dialer.breaker import CircuitBreaker
from campaigner.dialer.clock import ShiftedClock
from campaigner.dialer.session import YOUNG_THRESHOLD
from campaigner.dialer.stopping import ExitCode, Finish, Later, Stop, Wait, when_idle

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("failures", "jitter", "retry_after", "expected"),
    [
        (1, 0.0, None, 0.25),  # half of the base
        (1, 0.5, None, 0.375),
        (2, 0.0, None, 0.5),
        (3, 0.0, None, 1.0),
        (4, 0.99, None, 2.0 + 1.98),
        (10, 0.0, None, 15.0),  # the ceiling (30 s), halved
        (30, 0.0, None, 15.0),
        (1, 0.0, 5.0, 5.0),  # never sooner than Retry-After
        (10, 0.99, 2.0, 15.0 + 14.85),  # a longer backoff wins over a short Retry-After
    ],
)
def test_backoff(failures: int, jitter: float, retry_after: float | None, expected: float) -> None:
    assert Backoff().delay(failures, jitter, retry_after) == pytest.approx(expected)


@pytest.mark.parametrize(("failures", "jitter"), [(0, 0.0), (1, 1.0), (1, -0.1)])
def test_backoff_refuses_nonsense(failures: int, jitter: float) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        Backoff().delay(failures, jitter)


@pytest.mark.parametrize(
    ("events", "trips_at", "tripped"),
    [
        ("fff", 3, True),
        ("ffsff", None, False),  # a success closes the count
        ("fffff", 3, True),  # it trips once
        ("fffsf", 3, True),  # once tripped, it stays tripped
        ("ff", None, False),
    ],
)
def test_circuit_breaker(events: str, trips_at: int | None, tripped: bool) -> None:
    breaker = CircuitBreaker(3)
    trips = []
    for number, event in enumerate(events, start=1):
        if event == "f":
            if breaker.failure(f"HTTP 503 #{number}"):
                trips.append(number)
        else:
            breaker.success()
    assert trips == ([trips_at] if trips_at else [])
    assert breaker.tripped is tripped
    if tripped:
        assert "circuit breaker at 3" in breaker.describe()


@pytest.mark.parametrize(
    ("pending", "in_progress", "next_due", "max_wait", "deadline", "expected"),
    [
        (0, 0, None, 60, None, Finish()),
        (0, 2, None, 60, None, Wait(None)),  # someone's call is live: it ends, or times out
        (3, 0, NOW + timedelta(seconds=30), 60, None, Wait(NOW + timedelta(seconds=30))),
        (
            3,
            0,
            NOW + timedelta(minutes=5),
            60,
            None,
            Later(NOW + timedelta(minutes=5), Stop.NOTHING_DUE),
        ),
        (
            3,
            1,
            NOW + timedelta(hours=9),
            60,
            None,
            Later(NOW + timedelta(hours=9), Stop.NOTHING_DUE),
        ),
        (
            3,
            0,
            NOW + timedelta(seconds=30),
            60,
            NOW + timedelta(seconds=10),
            Later(NOW + timedelta(seconds=30), Stop.DEADLINE),
        ),
        (3, 0, NOW, 60, None, Wait(None)),  # due already: a race with a claim
    ],
)
def test_when_idle(
    pending: int,
    in_progress: int,
    next_due: datetime | None,
    max_wait: int,
    deadline: datetime | None,
    expected: object,
) -> None:
    decision = when_idle(
        pending=pending,
        in_progress=in_progress,
        next_due=next_due,
        now=NOW,
        max_wait=timedelta(seconds=max_wait),
        deadline=deadline,
    )
    assert decision == expected


@pytest.mark.parametrize(
    ("stop", "code"),
    [
        (Stop.FINISHED, 0),
        (Stop.NOTHING_DUE, 75),
        (Stop.DEADLINE, 75),
        (Stop.PAUSED, 3),
        (Stop.CANCELLED, 3),
        (Stop.REFUSED, 69),
        (Stop.BREAKER, 69),
        (Stop.INTERRUPTED, 130),
    ],
)
def test_exit_codes(stop: Stop, code: int) -> None:
    assert stop.exit_code == ExitCode(code)


def test_a_shifted_clock_starts_where_it_is_told_and_can_run_fast() -> None:
    clock = ShiftedClock(NOW, speed=3600)
    assert NOW <= clock.now() < NOW + timedelta(hours=1)
    assert clock.seconds_until(NOW + timedelta(hours=2)) == pytest.approx(2, abs=0.5)
    assert clock.seconds_until(NOW - timedelta(hours=1)) == 0
    with pytest.raises(ValueError, match="aware"):
        ShiftedClock(datetime(2026, 3, 4))


def test_fewer_collections_while_dialing_then_as_before() -> None:
    before = gc.get_threshold()
    with fewer_collections(YOUNG_THRESHOLD):
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
        assert gc.get_freeze_count() > 0
        with fewer_collections(YOUNG_THRESHOLD):  # another run in the same process
            pass
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD  # still dialing
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
