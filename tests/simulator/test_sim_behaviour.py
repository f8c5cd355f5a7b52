"""Which outcome a call gets, and how the simulator reads its settings: pure, table-driven."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from campaigner.errors import ValidationError
from campaigner.model import Outcome
from campaigner.simulator import (
    Behaviour,
    Span,
    digit_mix,
    outcome_mix,
    parse_outcome,
    parse_script,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("delivered", Outcome.DELIVERED),
        (" Busy ", Outcome.BUSY),
        ("no_answer", Outcome.NO_ANSWER),
        ("no-answer", Outcome.NO_ANSWER),
        ("failed", Outcome.FAILED),
        ("invalid", Outcome.INVALID_NUMBER),
        ("invalid_number", Outcome.INVALID_NUMBER),
    ],
)
def test_outcome_names(text: str, expected: Outcome) -> None:
    assert parse_outcome(text) is expected


@pytest.mark.parametrize("text", ["rejected_request", "answered", ""])
def test_unknown_outcome_is_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="not a call outcome"):
        parse_outcome(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("delivered", "name=weight"),
        ("delivered=x", "name=weight"),
        ("delivered=-1", "name=weight"),
        ("delivered=0,busy=0", "positive total"),
        ("", "at least one"),
        ("answered=5", "not a call outcome"),
    ],
)
def test_bad_outcome_mix(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        outcome_mix(text)


def test_mix_follows_its_weights() -> None:
    mix = outcome_mix("delivered=3,busy=1,failed=0")
    rng = random.Random(7)
    counts = Counter(mix.pick(rng) for _ in range(4000))
    assert set(counts) == {"delivered", "busy"}
    assert 2700 < counts["delivered"] < 3300
    assert mix.describe() == "delivered=3,busy=1,failed=0"


@pytest.mark.parametrize("text", ["1=5,x=1", "12=1", "none=1,#=1,*=1,0=1"])
def test_digit_mix(text: str) -> None:
    if "x" in text or "12" in text:
        with pytest.raises(ValidationError, match="not a key"):
            digit_mix(text)
    else:
        assert [name for name, _ in digit_mix(text).weights] == ["none", "#", "*", "0"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+13215550123=busy", ("+13215550123", (Outcome.BUSY,))),
        (
            "+13215550123=busy,no-answer,delivered",
            ("+13215550123", (Outcome.BUSY, Outcome.NO_ANSWER, Outcome.DELIVERED)),
        ),
    ],
)
def test_script(text: str, expected: tuple[str, tuple[Outcome, ...]]) -> None:
    assert parse_script(text) == expected


@pytest.mark.parametrize("text", ["13215550123=busy", "+13215550123", "+13215550123="])
def test_bad_script(text: str) -> None:
    with pytest.raises(ValidationError, match="must look like"):
        parse_script(text)


def test_scripted_number_follows_its_script_and_repeats_the_last_entry() -> None:
    behaviour = Behaviour(
        scripts={"+13215550123": (Outcome.BUSY, Outcome.NO_ANSWER, Outcome.DELIVERED)}
    )
    outcomes = [
        behaviour.outcome("+13215550123", attempt, behaviour.call_rng("+13215550123", attempt))
        for attempt in range(5)
    ]
    assert outcomes == [Outcome.BUSY, Outcome.NO_ANSWER] + [Outcome.DELIVERED] * 3


def test_a_number_gets_the_same_outcome_whatever_the_order_of_requests() -> None:
    behaviour = Behaviour(seed=42)
    numbers = [f"+1415555{n:04d}" for n in range(200)]

    def outcomes(order: list[str]) -> dict[str, Outcome]:
        return {n: behaviour.outcome(n, 0, behaviour.call_rng(n, 0)) for n in order}

    assert outcomes(numbers) == outcomes(list(reversed(numbers)))
    assert len(set(outcomes(numbers).values())) > 1
    other_seed = Behaviour(seed=43)
    assert outcomes(numbers) != {
        n: other_seed.outcome(n, 0, other_seed.call_rng(n, 0)) for n in numbers
    }


def test_digits_none_means_no_key() -> None:
    rng = random.Random(1)
    assert Behaviour(digits=digit_mix("none=1")).digit(rng) is None
    assert Behaviour(digits=digit_mix("7=1")).digit(rng) == "7"


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [("0", 0.0, 0.0), ("0.2", 0.2, 0.2), ("1-3", 1.0, 3.0), (" 0.5 - 2.5 ", 0.5, 2.5)],
)
def test_span(text: str, low: float, high: float) -> None:
    span = Span.parse(text)
    assert (span.low, span.high) == (low, high)
    assert low <= span.draw(random.Random(3)) <= high


@pytest.mark.parametrize("text", ["-1", "3-1", "fast", "1-", "1s"])
def test_bad_span(text: str) -> None:
    with pytest.raises(ValidationError):
        Span.parse(text)
