"""Lenient reading of what providers send: JSON bodies, field values, times, Retry-After.

The vendors' own samples are not always what their docs promise (`voice_Id`, a number where a
string is expected, `2021-02-18T12:47-00Z`), so nothing here raises on odd input: a value that
cannot be read is None, and the caller decides what that means.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

JSONObject = dict[str, object]

# ISO 8601 as the vendors write it: seconds, fraction and zone optional, a space for the T allowed,
# and EnableX's `12:47-00Z` (an offset followed by a stray Z). No zone at all means UTC.
_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?\s*Z?",
    re.IGNORECASE,
)
_DTMF = re.compile(r"[0-9*#A-Da-d]+")


def json_object(body: bytes) -> JSONObject | None:
    """The body as a JSON object, or None when it is not one (not JSON, or a list, or a string)."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def child(document: Mapping[str, object], name: str) -> JSONObject | None:
    """The object under `name`, or None when it is missing or not an object."""
    value = document.get(name)
    return value if isinstance(value, dict) else None


def text(document: Mapping[str, object], *names: str) -> str | None:
    """The first of `names` holding a non-empty string or number, as stripped text."""
    for name in names:
        value = document.get(name)
        if isinstance(value, str):
            value = value.strip()
            if value:
                return value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)  # a number's text is never blank
    return None


def dtmf_digits(value: object) -> str | None:
    """Keys pressed, whether sent as text or as a number (`"digit": 12345`); None if none."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if value >= 0 else None
    if isinstance(value, str) and _DTMF.fullmatch(value.strip()):
        return value.strip().upper()
    return None


def timestamp(value: object) -> datetime | None:
    """An aware UTC datetime from the ISO-like forms the vendors send; None if unreadable."""
    if not isinstance(value, str):
        return None
    match = _TIMESTAMP.fullmatch(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    utc = zone is None or zone == "Z" or zone == "z"
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second) if second else 0,
            int(fraction[:6].ljust(6, "0")) if fraction else 0,
            tzinfo=UTC if utc else _zone(zone),
        )
    except ValueError:
        return None
    return moment if utc else moment.astimezone(UTC)


def _zone(written: str) -> timezone:
    sign = -1 if written[0] == "-" else 1
    digits = written[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0)))


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value whatever the case of its name (httpx's Headers or a plain dict)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds, or an HTTP date.

    An HTTP date is measured against the answer's own Date header (the provider's clock), which
    keeps this a pure function; without a Date header a date cannot be turned into a delay.
    """
    value = header(headers, "retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    sent = header(headers, "date")
    if sent is None:
        return None
    try:
        until = parsedate_to_datetime(value)
        now = parsedate_to_datetime(sent)
    except (TypeError, ValueError, IndexError):
        return None
    if until.tzinfo is None or now.tzinfo is None:
        return None
    return max(0.0, (until - now).total_seconds())


def excerpt(body: bytes, limit: int = 200) -> str:
    """The start of a body, as text fit for one line of an operator's message."""
    words = " ".join(body.decode("utf-8", errors="replace").split())
    return words if len(words) <= limit else words[: limit - 1] + "…"
