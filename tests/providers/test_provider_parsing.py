"""The lenient readers every adapter shares: times, key presses, Retry-After, JSON bodies."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from campaigner.providers import _parsing


def _utc(
    year: int, month: int, day: int, hour: int, minute: int, second: int = 0, micro: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2020-02-16T10:52:00Z", _utc(2020, 2, 16, 10, 52)),
        ("2021-02-18T12:47-00Z", _utc(2021, 2, 18, 12, 47)),  # EnableX: no seconds, -00 then Z
        ("2020-02-16T10:52:00Z ", _utc(2020, 2, 16, 10, 52)),  # EnableX v2: a trailing space
        ("2023-01-10T13:47:59.667Z", _utc(2023, 1, 10, 13, 47, 59, 667000)),
        ("2016-07-28T08:07:38.481", _utc(2016, 7, 28, 8, 7, 38, 481000)),  # no zone: UTC
        ("2024-09-04T06:42:16.520-04:00", _utc(2024, 9, 4, 10, 42, 16, 520000)),
        ("2024-09-04T06:42:16+0530", _utc(2024, 9, 4, 1, 12, 16)),
        ("2024-09-04T06:42:16+05", _utc(2024, 9, 4, 1, 42, 16)),
        ("2024-09-04 06:42", _utc(2024, 9, 4, 6, 42)),
        ("2024-09-04t06:42:16z", _utc(2024, 9, 4, 6, 42, 16)),
        ("2020-02-16T10:52:00.1234567Z", _utc(2020, 2, 16, 10, 52, 0, 123456)),
        ("...", None),  # EnableX's placeholder
        ("", None),
        ("2020-02-16", None),
        ("2020-13-01T00:00Z", None),
        ("2020-02-30T10:00Z", None),
        ("2020-02-16T24:00Z", None),
        ("2020-02-16T10:52:00+25:00", None),
        ("10:52 16/02/2020", None),
        (None, None),
        (1581850320, None),
    ],
)
def test_timestamps(written: object, expected: datetime | None) -> None:
    parsed = _parsing.timestamp(written)
    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (12345, "12345"),  # EnableX sends digits as a number
        ("12345", "12345"),
        ("1#", "1#"),
        ("*9", "*9"),
        (" 42 ", "42"),
        ("d", "D"),  # the fourth column of a DTMF keypad
        (0, "0"),
        ("", None),
        ("hello", None),
        (-1, None),
        (1.5, None),
        (True, None),
        (None, None),
    ],
)
def test_dtmf_digits(value: object, expected: str | None) -> None:
    assert _parsing.dtmf_digits(value) == expected


DATE = "Wed, 21 Oct 2026 07:28:00 GMT"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "120"}, 120.0),
        ({"retry-after": " 7 "}, 7.0),
        ({"Retry-After": "Wed, 21 Oct 2026 07:28:30 GMT", "Date": DATE}, 30.0),
        ({"Retry-After": "Wed, 21 Oct 2026 07:27:00 GMT", "date": DATE}, 0.0),  # already past
        ({"Retry-After": "Wed, 21 Oct 2026 07:28:30 GMT"}, None),  # no clock to measure it by
        ({"Retry-After": "soon", "Date": DATE}, None),
        ({"Retry-After": "-5"}, None),
        ({}, None),
    ],
)
def test_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert _parsing.retry_after(headers) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"a": 1}', {"a": 1}),
        (b"[1, 2]", None),
        (b'"text"', None),
        (b"null", None),
        (b"{", None),
        (b"\xff\xfe\x00", None),
        (b"[" * 100_000, None),
    ],
)
def test_json_object(body: bytes, expected: dict[str, object] | None) -> None:
    assert _parsing.json_object(body) == expected


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"a": "x"}, "x"),
        ({"a": " x "}, "x"),
        ({"a": 6110}, "6110"),
        ({"a": "", "b": "y"}, "y"),
        ({"a": None, "b": True, "c": "z"}, "z"),
        ({"a": {"nested": 1}}, None),
        ({"a": ["x"]}, None),
        ({}, None),
    ],
)
def test_text(document: dict[str, object], expected: str | None) -> None:
    assert _parsing.text(document, "a", "b", "c") == expected


def test_excerpt_is_one_short_line() -> None:
    assert _parsing.excerpt(b"a\n  b\tc") == "a b c"
    assert _parsing.excerpt(b"x" * 300, limit=10) == "xxxxxxxxx…"
    assert _parsing.excerpt(b"\xff") == "\ufffd"
