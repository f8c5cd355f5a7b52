"""Keys pressed per number in the simulator: fixed, or one per play of the message."""

from __future__ import annotations

import random

import pytest

from campaigner.errors import ValidationError
from campaigner.simulator import Behaviour, digit_mix, parse_key


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+13215550123=9", ("+13215550123", "9")),
        ("+13215550123=None", ("+13215550123", "none")),
        ("+13215550123=none, 1", ("+13215550123", "none,1")),
        ("+13215550123=#", ("+13215550123", "#")),
    ],
)
def test_press_option(text: str, expected: tuple[str, str]) -> None:
    assert parse_key(text) == expected


@pytest.mark.parametrize("text", ["13215550123=9", "+13215550123", "+13215550123=12", "+1=x"])
def test_bad_press_option(text: str) -> None:
    with pytest.raises(ValidationError):
        parse_key(text)


def test_a_number_presses_its_own_key_play_by_play_and_others_follow_the_mix() -> None:
    behaviour = Behaviour(
        keys={"+13215550123": "none,1", "+13215550124": "9"}, digits=digit_mix("2=1")
    )
    rng = random.Random(0)
    assert behaviour.digit(rng, "+13215550123", 0) is None
    assert behaviour.digit(rng, "+13215550123", 1) == "1"
    assert behaviour.digit(rng, "+13215550123", 5) == "1"  # the last entry repeats
    assert behaviour.digit(rng, "+13215550124", 0) == "9"
    assert behaviour.digit(rng, "+13215550125", 0) == "2"


def test_a_bad_key_for_a_number_is_refused() -> None:
    with pytest.raises(ValidationError, match="'x' is not a key"):
        Behaviour(keys={"+13215550123": "1,x"})
