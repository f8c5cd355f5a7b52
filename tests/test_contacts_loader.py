"""The contact loader's pure parts: the filter of numbers an import has loaded."""

from __future__ import annotations

from campaigner.store.contacts import _LoadedNumbers

NUMBERS = [f"+1212555{n:04d}" for n in range(10_000)]
OTHERS = [f"+1415555{n:04d}" for n in range(10_000)]


def test_a_number_loaded_is_always_looked_up() -> None:
    loaded = _LoadedNumbers()
    assert loaded.maybe(NUMBERS) == []
    loaded.add(NUMBERS[::2])
    assert loaded.maybe(NUMBERS[::2]) == NUMBERS[::2]


def test_numbers_not_loaded_are_seldom_looked_up() -> None:
    """10,000 numbers set about 10,000 bits of 16,777,216: one other number in 1,678 is looked up
    for nothing. Fewer than 1% is a bound the filter misses only if it is broken."""
    loaded = _LoadedNumbers()
    loaded.add(NUMBERS)
    assert len(loaded.maybe(OTHERS)) < len(OTHERS) // 100
