"""Calling windows across time zones, DST days and midnight, as tables of instants."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from campaigner.errors import ValidationError
from campaigner.windows import CallingWindow, parse_days, zone_named


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


WEEKDAYS = CallingWindow.parse("09:00-20:00", "mon-fri")
FRIDAY_NIGHT = CallingWindow.parse("22:00-02:00", "fri")

# 2026: US DST starts Sun 8 March and ends Sun 1 November; UK DST starts Sun 29 March.
# Friday 13 March 2026 13:30 UTC is 09:30 in New York (EDT), 08:30 in Chicago, 06:30 in Los
# Angeles, 13:30 in London, 19:00 in Kolkata, 22:30 in Tokyo and 02:30 Saturday in Auckland.


@pytest.mark.parametrize(
    ("window", "zone", "now", "is_open"),
    [
        (WEEKDAYS, "America/New_York", "2026-03-13 13:30", True),
        (WEEKDAYS, "America/Chicago", "2026-03-13 13:30", False),
        (WEEKDAYS, "Europe/London", "2026-03-13 13:30", True),
        (WEEKDAYS, "Asia/Kolkata", "2026-03-13 13:30", True),
        (WEEKDAYS, "Asia/Tokyo", "2026-03-13 13:30", False),
        (WEEKDAYS, "Pacific/Auckland", "2026-03-13 13:30", False),  # Saturday there
        (WEEKDAYS, "America/New_York", "2026-03-12 13:00", True),  # 09:00: the start is in
        (WEEKDAYS, "America/New_York", "2026-03-13 00:00", False),  # 20:00: the end is out
        (WEEKDAYS, "America/New_York", "2026-03-12 23:59", True),  # 19:59
        (WEEKDAYS, "America/New_York", "2026-03-14 15:00", False),  # Saturday
        (WEEKDAYS, "America/New_York", "2026-03-06 14:30", True),  # 09:30 EST, before DST
        (WEEKDAYS, "America/New_York", "2026-03-09 13:30", True),  # 09:30 EDT, after DST
        (WEEKDAYS, "America/New_York", "2026-03-06 13:30", False),  # 08:30 EST
        (FRIDAY_NIGHT, "Europe/London", "2026-03-13 22:00", True),  # Friday 22:00
        (FRIDAY_NIGHT, "Europe/London", "2026-03-14 01:59", True),  # Saturday 01:59
        (FRIDAY_NIGHT, "Europe/London", "2026-03-14 02:00", False),  # Saturday 02:00
        (FRIDAY_NIGHT, "Europe/London", "2026-03-13 01:00", False),  # Thursday's night
        (FRIDAY_NIGHT, "Europe/London", "2026-03-14 23:00", False),  # Saturday 23:00
        (FRIDAY_NIGHT, "Asia/Tokyo", "2026-03-13 13:30", True),  # Friday 22:30 in Tokyo
    ],
)
def test_is_open(window: CallingWindow, zone: str, now: str, is_open: bool) -> None:
    assert window.is_open(utc(now), zone_named(zone)) is is_open


@pytest.mark.parametrize(
    ("window", "zone", "now", "opens"),
    [
        # across zones, from one instant
        (WEEKDAYS, "America/New_York", "2026-03-13 13:30", "2026-03-13 13:30"),
        (WEEKDAYS, "America/Chicago", "2026-03-13 13:30", "2026-03-13 14:00"),
        (WEEKDAYS, "America/Los_Angeles", "2026-03-13 13:30", "2026-03-13 16:00"),
        (WEEKDAYS, "Asia/Tokyo", "2026-03-13 13:30", "2026-03-16 00:00"),  # Monday 09:00 JST
        (WEEKDAYS, "Pacific/Auckland", "2026-03-13 13:30", "2026-03-15 20:00"),  # Mon 09:00 NZDT
        (WEEKDAYS, "Asia/Kathmandu", "2026-03-13 20:00", "2026-03-16 03:15"),  # +05:45
        # at the end of the window, the next day's start
        (WEEKDAYS, "America/New_York", "2026-03-12 00:00", "2026-03-12 13:00"),
        # DST: Friday before and Monday after the US change keep 09:00 local
        (WEEKDAYS, "America/New_York", "2026-03-07 12:00", "2026-03-09 13:00"),
        (WEEKDAYS, "America/New_York", "2026-10-31 01:00", "2026-11-02 14:00"),
        # a start inside the spring-forward gap opens when the gap ends (03:00 EDT)
        (
            CallingWindow.parse("02:30-04:00"),
            "America/New_York",
            "2026-03-08 05:00",
            "2026-03-08 07:00",
        ),
        (
            CallingWindow.parse("01:30-05:00"),
            "Europe/London",
            "2026-03-29 00:00",
            "2026-03-29 01:00",
        ),
        # a window wholly inside the gap does not exist that day
        (
            CallingWindow.parse("02:00-02:30"),
            "America/New_York",
            "2026-03-08 05:00",
            "2026-03-09 06:00",
        ),
        # a start in the repeated fall-back hour opens at its first occurrence (EDT)
        (
            CallingWindow.parse("01:30-03:00"),
            "America/New_York",
            "2026-11-01 04:00",
            "2026-11-01 05:30",
        ),
        # spanning midnight
        (FRIDAY_NIGHT, "Europe/London", "2026-03-14 03:00", "2026-03-20 22:00"),
        (FRIDAY_NIGHT, "Europe/London", "2026-03-13 01:00", "2026-03-13 22:00"),
        (FRIDAY_NIGHT, "Europe/London", "2026-03-14 01:00", "2026-03-14 01:00"),
        (CallingWindow.parse("20:00-24:00"), "UTC", "2026-03-13 23:59", "2026-03-13 23:59"),
    ],
)
def test_next_opening(window: CallingWindow, zone: str, now: str, opens: str) -> None:
    assert window.next_opening(utc(now), zone_named(zone)) == utc(opens)


@pytest.mark.parametrize(
    ("window", "zone", "now", "closes"),
    [
        (WEEKDAYS, "America/New_York", "2026-03-13 13:30", "2026-03-14 00:00"),
        (WEEKDAYS, "America/New_York", "2026-03-06 14:30", "2026-03-07 01:00"),  # EST
        (WEEKDAYS, "America/New_York", "2026-03-13 12:00", None),
        (FRIDAY_NIGHT, "Europe/London", "2026-03-13 23:00", "2026-03-14 02:00"),
        (FRIDAY_NIGHT, "Europe/London", "2026-03-14 01:00", "2026-03-14 02:00"),
        # the end falls in the spring-forward gap: the window closes when the gap ends
        (
            CallingWindow.parse("22:00-02:30"),
            "America/New_York",
            "2026-03-08 04:00",
            "2026-03-08 07:00",
        ),
        # spanning the fall-back night: 20:00 EDT to 01:30 EDT
        (
            CallingWindow.parse("20:00-01:30", "sat"),
            "America/New_York",
            "2026-11-01 03:00",
            "2026-11-01 05:30",
        ),
    ],
)
def test_closes_at(window: CallingWindow, zone: str, now: str, closes: str | None) -> None:
    closing = window.closes_at(utc(now), zone_named(zone))
    assert closing == (utc(closes) if closes else None)


@pytest.mark.parametrize(
    ("zone", "now"),
    [
        ("America/New_York", "2026-11-01 06:10"),  # 01:10 EST, the second time 01:10 comes round
        ("America/New_York", "2026-11-01 05:10"),  # 01:10 EDT, the first
        ("Europe/London", "2026-10-25 01:10"),  # 01:10 GMT, the second
    ],
)
def test_an_open_window_never_closes_in_the_past(zone: str, now: str) -> None:
    window = CallingWindow.parse("20:00-01:30", "sat")
    instant = utc(now)
    assert window.is_open(instant, zone_named(zone))
    closing = window.closes_at(instant, zone_named(zone))
    assert closing is not None
    assert closing > instant
    assert not window.is_open(closing, zone_named(zone))


@pytest.mark.parametrize(
    ("hours", "days", "described"),
    [
        ("09:00-20:00", "mon-sun", "09:00-20:00 daily"),
        ("9:00-20:00", "weekdays", "09:00-20:00 mon,tue,wed,thu,fri"),
        ("22:00-02:00", "fri,sat", "22:00-02:00 fri,sat"),
        ("08:00-24:00", "weekends", "08:00-24:00 sat,sun"),
        ("00:00-24:00", "daily", "00:00-24:00 daily"),
        (" 08:00 - 12:00 ", "Mon-Wed, Fri", "08:00-12:00 mon,tue,wed,fri"),
        ("08:00-12:00", "monday-friday", "08:00-12:00 mon,tue,wed,thu,fri"),
    ],
)
def test_parse(hours: str, days: str, described: str) -> None:
    assert CallingWindow.parse(hours, days).describe() == described


@pytest.mark.parametrize(
    ("hours", "days", "error"),
    [
        ("09:00", "daily", "must look like 09:00-20:00"),
        ("9-17", "daily", "is not a time like 09:00"),
        ("09:00-25:00", "daily", "is not a time of day"),
        ("09:60-10:00", "daily", "is not a time of day"),
        ("09:00-09:00", "daily", "is empty"),
        ("00:00-00:00", "daily", "is empty"),
        ("09:00-17:00", "fri-mon", "runs backwards"),
        ("09:00-17:00", "funday", "is not a day"),
        ("09:00-17:00", ",", "names no day"),
    ],
)
def test_parse_refuses(hours: str, days: str, error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        CallingWindow.parse(hours, days)


def test_days_are_weekday_numbers() -> None:
    assert parse_days("mon,sun") == frozenset({0, 6})


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware datetime"):
        WEEKDAYS.next_opening(datetime(2026, 3, 13, 12), zone_named("UTC"))


@pytest.mark.parametrize(
    ("local", "is_open"),
    [
        ("2026-11-23 00:00", True),  # Monday, midnight
        ("2026-11-23 12:00", True),
        ("2026-11-23 23:59", True),
        ("2026-11-22 12:00", False),  # Sunday
        ("2026-11-24 00:30", True),  # Tuesday
    ],
)
def test_the_whole_day_window(local: str, is_open: bool) -> None:
    window = CallingWindow.parse("00:00-24:00", "mon-sat")
    zone = zone_named("America/Chicago")
    instant = datetime.fromisoformat(local).replace(tzinfo=zone)
    assert window.is_open(instant, zone) is is_open
