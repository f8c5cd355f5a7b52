"""Durations as operators write them: `90s`, `10m`, `1h30m`, `2d`, or plain seconds (`90`).

Used for retry delays and the dialer's `--max-duration`. Stored and computed as whole seconds;
`format_duration` writes them back in the shortest form `parse_duration` reads.
"""

from __future__ import annotations

import re

from .errors import ValidationError

_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))
_SECONDS = re.compile(r"\d+", re.ASCII)
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", re.ASCII)


def parse_duration(text: str) -> int:
    """Whole seconds in `text`; units must come largest first (`1h30m`, not `30m1h`)."""
    cleaned = text.strip().lower().replace(" ", "")
    if _SECONDS.fullmatch(cleaned):
        return int(cleaned)
    match = _DURATION.fullmatch(cleaned)
    if not cleaned or match is None:
        raise ValidationError(
            f"duration {text!r} is not like 90s, 10m, 1h30m, 2d or a number of seconds"
        )
    return sum(
        int(amount) * seconds
        for amount, (_, seconds) in zip(match.groups(), _UNITS, strict=True)
        if amount
    )


def format_duration(seconds: int) -> str:
    """`5400` -> `1h30m`; `0` -> `0s`. Negative durations are refused: nothing waits backwards."""
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {seconds}")
    parts: list[str] = []
    for unit, size in _UNITS:
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0s"
