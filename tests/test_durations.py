"""Durations: parse and format, as tables."""

from __future__ import annotations

import pytest

from campaigner.durations import format_duration, parse_duration
from campaigner.errors import ValidationError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0),
        ("90", 90),
        (" 90 ", 90),
        ("90s", 90),
        ("10m", 600),
        ("1h", 3600),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("1H30M", 5400),
        ("1h0m5s", 3605),
        ("2d", 172_800),
        ("1d2h3m4s", 93_784),
        ("90m", 5400),
        ("0s", 0),
    ],
)
def test_parse(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "h",
        "²",
        "1²m",
        "1.5h",
        "-5",
        "-5m",
        "30m1h",
        "1h1h",
        "10 minutes",
        "1w",
        "m30",
        "1:30",
    ],
)
def test_parse_refuses(text: str) -> None:
    with pytest.raises(ValidationError, match="is not like 90s"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (59, "59s"),
        (60, "1m"),
        (90, "1m30s"),
        (3600, "1h"),
        (5400, "1h30m"),
        (3605, "1h5s"),
        (86_400, "1d"),
        (93_784, "1d2h3m4s"),
    ],
)
def test_format(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


def test_format_refuses_negative() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        format_duration(-1)
