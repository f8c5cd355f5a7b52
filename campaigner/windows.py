"""Calling windows: the local hours in which a contact may be called.

A window is a start and an end time of day and a set of weekdays, applied in each contact's own
time zone. `09:00-20:00` on mon-fri means a contact in Denver is called from 09:00 to 20:00 Denver
time, Monday to Friday. An end before the start spans midnight (`22:00-02:00` on fri: Friday 22:00
to Saturday 02:00); the day named is the day the window opens. The end is exclusive.
`00:00-24:00` is the whole day.

All functions take the current time as an argument (an aware datetime), so they are pure and the
dialer's clock can be injected in tests. Local times are resolved with zoneinfo, so DST days have
the hours they really have: a window opening at 02:30 on the spring-forward day opens at 03:00.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ValidationError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_DAYS = frozenset(range(7))
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


@dataclass(frozen=True)
class CallingWindow:
    start: time
    end: time
    days: frozenset[int] = ALL_DAYS  # 0 = Monday, as datetime.weekday()

    def __post_init__(self) -> None:
        if self.start == self.end != time(0, 0):
            raise ValidationError(
                f"calling window {self.describe()} is empty: start and end are the same time "
                "(write 00:00-24:00 for the whole day)"
            )
        if not self.days:
            raise ValidationError("calling window has no days")
        if not self.days <= ALL_DAYS:
            raise ValidationError(f"calling window days {sorted(self.days)} must be 0..6")

    @classmethod
    def parse(cls, hours: str, days: str = "mon-sun") -> CallingWindow:
        """From `HH:MM-HH:MM` and a day list such as `mon-fri`, `mon,wed,fri`, `daily`."""
        start_text, sep, end_text = hours.replace(" ", "").partition("-")
        if not sep:
            raise ValidationError(f"calling window {hours!r} must look like 09:00-20:00")
        start, end = _parse_time(start_text, hours), _parse_time(end_text, hours)
        if start == end and not end_text.startswith("24"):
            raise ValidationError(
                f"calling window {hours!r} is empty: start and end are the same time "
                "(write 00:00-24:00 for the whole day)"
            )
        return cls(start, end, parse_days(days))

    @property
    def spans_midnight(self) -> bool:
        """True also for the whole day (00:00-24:00): it ends at the next midnight."""
        return self.end <= self.start

    @property
    def days_text(self) -> str:
        return ",".join(DAY_NAMES[day] for day in sorted(self.days))

    def describe(self) -> str:
        end = "24:00" if self.end == time(0, 0) else f"{self.end:%H:%M}"
        hours = f"{self.start:%H:%M}-{end}"
        return f"{hours} {self.days_text}" if self.days != ALL_DAYS else f"{hours} daily"

    def is_open(self, now: datetime, zone: ZoneInfo) -> bool:
        """Whether a contact in `zone` may be called at the instant `now`."""
        local = now.astimezone(zone)
        clock = local.time().replace(tzinfo=None)
        weekday = local.weekday()
        if not self.spans_midnight:
            return weekday in self.days and self.start <= clock < self.end
        if clock >= self.start:
            return weekday in self.days
        return clock < self.end and (weekday - 1) % 7 in self.days

    def next_opening(self, now: datetime, zone: ZoneInfo) -> datetime:
        """The first instant at or after `now` when the window is open in `zone`, in UTC."""
        _require_aware(now)
        if self.is_open(now, zone):
            return now.astimezone(UTC)
        local_today = now.astimezone(zone).date()
        for offset in range(9):
            day = local_today + timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            opening = _local_instant(day, self.start, zone)
            if opening > now and self.is_open(opening, zone):
                return opening.astimezone(UTC)
        raise AssertionError("a window with at least one day opens within eight days")

    def closes_at(self, now: datetime, zone: ZoneInfo) -> datetime | None:
        """When the window that is open at `now` closes, in UTC; None if it is not open."""
        _require_aware(now)
        if not self.is_open(now, zone):
            return None
        local = now.astimezone(zone)
        opened_on = local.date()
        if self.spans_midnight and local.time().replace(tzinfo=None) < self.end:
            opened_on -= timedelta(days=1)
        closing_day = opened_on + timedelta(days=1) if self.spans_midnight else opened_on
        closing = _local_instant(closing_day, self.end, zone)
        if closing <= now:  # in the hour a fall-back repeats, the end comes round a second time
            closing = closing.replace(fold=1)
        return closing.astimezone(UTC)


def parse_days(text: str) -> frozenset[int]:
    """`mon-fri`, `sat,sun`, `mon-wed,fri`, `daily`/`all`/`mon-sun`, `weekdays`, `weekends`."""
    cleaned = text.strip().lower()
    aliases = {"daily": "mon-sun", "all": "mon-sun", "weekdays": "mon-fri", "weekends": "sat-sun"}
    cleaned = aliases.get(cleaned, cleaned)
    days: set[int] = set()
    for part in filter(None, (piece.strip() for piece in cleaned.split(","))):
        first, dash, last = part.partition("-")
        start = _day_index(first, text)
        end = _day_index(last, text) if dash else start
        if end < start:
            raise ValidationError(f"calling days {text!r}: {part} runs backwards (write sat-sun)")
        days.update(range(start, end + 1))
    if not days:
        raise ValidationError(f"calling days {text!r} names no day")
    return frozenset(days)


def zone_named(name: str) -> ZoneInfo:
    """The IANA zone `name`, or a `ValidationError` naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"time zone {name!r} is not a known IANA zone (e.g. America/New_York)"
        ) from None


def local_text(moment: datetime, zone: ZoneInfo) -> str:
    """`moment` as the wall time of `zone` to the second (the fraction dropped) with its UTC
    offset, `2026-11-20T09:03:09-05:00`: a call's local time as the dialer records it and the
    reports print it."""
    return moment.astimezone(zone).isoformat(timespec="seconds")


def _day_index(name: str, text: str) -> int:
    key = name.strip()[:3]
    if key not in DAY_NAMES:
        raise ValidationError(
            f"calling days {text!r}: {name!r} is not a day (use mon, tue, wed, thu, fri, sat, sun)"
        )
    return DAY_NAMES.index(key)


def _parse_time(text: str, whole: str) -> time:
    match = _TIME.match(text)
    if not match:
        raise ValidationError(f"calling window {whole!r}: {text!r} is not a time like 09:00")
    hour, minute = int(match[1]), int(match[2])
    if hour == 24 and minute == 0:
        return time(0, 0)
    if hour > 23 or minute > 59:
        raise ValidationError(f"calling window {whole!r}: {text!r} is not a time of day")
    return time(hour, minute)


def _local_instant(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The real instant of a wall-clock time; a time inside a DST gap moves past the gap."""
    naive = datetime.combine(day, clock)
    instant = naive.replace(tzinfo=zone)
    round_trip = instant.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    while round_trip != naive:  # inside a spring-forward gap: move on to the gap's end
        naive = naive.replace(second=0, microsecond=0) + timedelta(minutes=1)
        instant = naive.replace(tzinfo=zone)
        round_trip = instant.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    return instant


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("calling windows need an aware datetime for now")
