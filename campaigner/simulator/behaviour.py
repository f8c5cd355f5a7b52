"""Which outcome each call gets, and the small choices made along the way. Pure: no I/O.

A call's randomness comes from its own generator, seeded from the simulator seed, the number and
the attempt, so a number gets the same outcome whatever order the dialer's requests arrive in.
A number can also be given a fixed script: `busy,delivered` is busy on the first attempt and
delivered on the second and every later one (the last entry repeats).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..errors import ValidationError
from ..model import Outcome

# What a placed call can end as; `rejected_request` is an answer to the request, not a call.
CALL_OUTCOMES = (
    Outcome.DELIVERED,
    Outcome.BUSY,
    Outcome.NO_ANSWER,
    Outcome.FAILED,
    Outcome.INVALID_NUMBER,
)
_OUTCOME_ALIASES = {"invalid": Outcome.INVALID_NUMBER, "no-answer": Outcome.NO_ANSWER}
NO_DIGIT = "none"  # in a digit mix: the callee presses nothing (EnableX menutimeout)


def parse_outcome(text: str) -> Outcome:
    """`delivered`, `busy`, `no_answer` (or `no-answer`), `failed`, `invalid` (`invalid_number`)."""
    key = text.strip().lower()
    outcome = _OUTCOME_ALIASES.get(key) or next((o for o in CALL_OUTCOMES if o.value == key), None)
    if outcome is None:
        names = ", ".join(o.value for o in CALL_OUTCOMES)
        raise ValidationError(f"{text!r} is not a call outcome (use {names}, or invalid)")
    return outcome


@dataclass(frozen=True)
class Mix:
    """Weighted choices, e.g. outcomes `delivered=60,busy=40` or digits `1=80,none=20`."""

    weights: tuple[tuple[str, float], ...]

    def __post_init__(self) -> None:
        if not self.weights or any(weight < 0 for _, weight in self.weights):
            raise ValidationError("a mix needs at least one choice and no negative weight")
        if sum(weight for _, weight in self.weights) <= 0:
            raise ValidationError("a mix needs a positive total weight")

    @classmethod
    def parse(cls, text: str, *, what: str = "mix") -> Mix:
        weights: list[tuple[str, float]] = []
        for part in filter(None, (piece.strip() for piece in text.split(","))):
            name, sep, weight = part.partition("=")
            try:
                value = float(weight)
            except ValueError:
                value = -1.0
            if not sep or not name.strip() or value < 0:
                raise ValidationError(f"{what} {text!r}: {part!r} must look like name=weight")
            weights.append((name.strip(), value))
        return cls(tuple(weights))

    def pick(self, rng: random.Random) -> str:
        point = rng.random() * sum(weight for _, weight in self.weights)
        for name, weight in self.weights:
            point -= weight
            if point < 0:
                return name
        return self.weights[-1][0]

    def describe(self) -> str:
        return ",".join(f"{name}={weight:g}" for name, weight in self.weights)


def outcome_mix(text: str) -> Mix:
    """An outcome mix from `delivered=60,busy=10,...`, names checked and normalised."""
    mix = Mix.parse(text, what="outcome mix")
    return Mix(tuple((parse_outcome(name).value, weight) for name, weight in mix.weights))


def digit_mix(text: str) -> Mix:
    """A key-press mix from `1=80,2=10,none=10`: digits 0-9, * and #, or `none`."""
    mix = Mix.parse(text, what="digit mix")
    for name, _ in mix.weights:
        if name != NO_DIGIT and (len(name) != 1 or name not in "0123456789*#"):
            raise ValidationError(f"digit mix {text!r}: {name!r} is not a key (0-9, *, #, none)")
    return mix


def parse_key(text: str) -> tuple[str, str]:
    """`+13215550123=9`: the key that number presses on every call (`none`: no key); `=none,1`:
    nothing on the first play, 1 on the replay."""
    number, sep, keys = text.partition("=")
    keys = keys.strip().lower().replace(" ", "")
    if not sep or not number.strip().startswith("+") or not keys:
        raise ValidationError(f"key {text!r} must look like +13215550123=9 (or =none)")
    for key in keys.split(","):
        if key != NO_DIGIT and (len(key) != 1 or key not in "0123456789*#"):
            raise ValidationError(f"key {text!r}: {key!r} is not a key (0-9, *, #, none)")
    return number.strip(), keys


def parse_script(text: str) -> tuple[str, tuple[Outcome, ...]]:
    """`+13215550123=busy,delivered`: that number's outcomes, attempt by attempt."""
    number, sep, outcomes = text.partition("=")
    if not sep or not number.strip().startswith("+") or not outcomes.strip():
        raise ValidationError(f"script {text!r} must look like +13215550123=busy,delivered")
    return number.strip(), tuple(parse_outcome(name) for name in outcomes.split(","))


DEFAULT_MIX = outcome_mix("delivered=60,busy=10,no_answer=15,failed=10,invalid=5")
DEFAULT_DIGITS = digit_mix("1=80,2=10,none=10")


@dataclass(frozen=True)
class Behaviour:
    """How callees behave. `quirky_timestamps` is the share of EnableX events whose timestamp
    has the vendor's odd `2021-02-18T12:47-00Z` form; `variants` lets an outcome take any of its
    vendor's sequences (e.g. an EnableX callee hanging up mid-message) rather than the plainest."""

    seed: int = 0
    mix: Mix = DEFAULT_MIX
    scripts: Mapping[str, tuple[Outcome, ...]] = field(default_factory=dict)
    digits: Mix = DEFAULT_DIGITS
    # number -> the key it presses (`none`: no key), or one per play: `none,1` presses nothing the
    # first time and 1 when the message is played again
    keys: Mapping[str, str] = field(default_factory=dict)
    quirky_timestamps: float = 0.0
    variants: bool = False
    dtmfcollected_events: bool = False  # EnableX: also send the `voice_Id` dtmfcollected event

    def __post_init__(self) -> None:
        object.__setattr__(self, "scripts", MappingProxyType(dict(self.scripts)))
        object.__setattr__(self, "keys", MappingProxyType(dict(self.keys)))
        for number, keys in self.keys.items():
            for key in keys.split(","):
                if key != NO_DIGIT and (len(key) != 1 or key not in "0123456789*#"):
                    raise ValidationError(
                        f"key for {number}: {key!r} is not a key (0-9, *, #, none)"
                    )
        for number, script in self.scripts.items():
            if not script:
                raise ValidationError(f"script for {number} names no outcome")

    def call_rng(self, to: str, attempt: int) -> random.Random:
        """The generator for attempt `attempt` (0 = first) to `to`: the same on every run."""
        digest = hashlib.blake2b(f"{self.seed}|{to}|{attempt}".encode(), digest_size=8).digest()
        return random.Random(int.from_bytes(digest, "big"))

    def outcome(self, to: str, attempt: int, rng: random.Random) -> Outcome:
        script = self.scripts.get(to)
        if script:
            return script[min(attempt, len(script) - 1)]
        return Outcome(self.mix.pick(rng))

    def digit(self, rng: random.Random, to: str | None = None, play: int = 0) -> str | None:
        """The key an EnableX callee presses when play `play` (0: the first) asks for one: the
        number's own key, if it has one, else one from the mix; None: no key."""
        own = self.keys.get(to) if to is not None else None
        if own is not None:
            keys = own.split(",")
            key = keys[min(play, len(keys) - 1)]
        else:
            key = self.digits.pick(rng)
        return None if key == NO_DIGIT else key
