"""`campaigner campaign preview`: what a campaign will do, shown before anything is dialled."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from ..campaigns import Message
from ..durations import format_duration
from ..errors import ValidationError
from ..model import MessageKind, TimezoneSource
from ..store.campaigns import (
    PendingContact,
    ZoneCount,
    first_pending_contacts,
    get_campaign,
    pending_by_zone,
)
from ..windows import CallingWindow, zone_named
from .app import database_option, opened_database
from .output import Cell, echo_json, json_option, table, when, window_words

OPEN_NOW = "open now"
WITHIN_HOUR = "opens within 1 hour"
WITHIN_DAY = "opens within 24 hours"
LATER = "opens later"
UNKNOWN_ZONE = "unknown time zone"
WAITING = "waiting for a retry"
BUCKETS = (OPEN_NOW, WITHIN_HOUR, WITHIN_DAY, LATER, UNKNOWN_ZONE, WAITING)


@dataclass(frozen=True)
class ZoneView:
    """One time zone's pending contacts and when the window opens there."""

    count: ZoneCount
    opens_at: datetime | None  # UTC; None when the zone is not in the time zone database
    closes_at: datetime | None  # UTC, when the window is open now

    def describe(self, now: datetime) -> str:
        """`open now, closes in 2h (20:00 local)` or `opens in 14h (Tue 09:00 local)`."""
        if self.opens_at is None:
            return "zone not in the time zone database: never called"
        local = zone_named(self.count.timezone)
        if self.closes_at is not None:
            closes = self.closes_at.astimezone(local)
            return f"open now, closes in {_span(self.closes_at - now)} ({closes:%H:%M} local)"
        opens = self.opens_at.astimezone(local)
        return f"opens in {_span(self.opens_at - now)} ({opens:%a %H:%M} local)"


def opening_bucket(opens_at: datetime | None, now: datetime) -> str:
    """Which of `BUCKETS` a window opening at `opens_at` falls in, seen from `now`."""
    if opens_at is None:
        return UNKNOWN_ZONE
    wait = opens_at - now
    if wait <= timedelta(0):
        return OPEN_NOW
    if wait <= timedelta(hours=1):
        return WITHIN_HOUR
    return WITHIN_DAY if wait <= timedelta(hours=24) else LATER


def zone_view(count: ZoneCount, window: CallingWindow, now: datetime) -> ZoneView:
    try:
        zone = zone_named(count.timezone)
    except ValidationError:
        return ZoneView(count, None, None)
    return ZoneView(count, window.next_opening(now, zone), window.closes_at(now, zone))


def render_message(message: Message, fields: Mapping[str, str | None]) -> tuple[str, list[str]]:
    """What one contact hears (the text, URL or prompt), and the columns it lacks a value in."""
    template = message.template()
    if template is not None:
        return template.render(fields), template.missing(fields)
    if message.kind is MessageKind.AUDIO_URL_COLUMN:
        url = (fields.get(message.body) or "").strip()
        return url, [] if url else [message.body]
    if message.kind is MessageKind.PROMPT:
        return f"prompt {message.body}", []
    return message.body, []


@click.command("preview")
@click.argument("name")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="How many pending contacts to render the message for.",
)
@click.option(
    "--now",
    "now_text",
    metavar="ISO8601",
    help="Preview as if it were this time, with its offset (2026-03-09T08:30-05:00). "
    "[default: the current time]",
)
@json_option
@database_option
def preview_command(
    name: str, limit: int, now_text: str | None, as_json: bool, db: str | None
) -> None:
    """Show what campaign NAME will do, before anything is dialled.

    Renders the message for the first pending contacts (with their full numbers), and counts
    pending contacts by time zone, with how each zone was chosen (a CSV column, the number, or
    the campaign's default), and by when their calling window next opens.
    """
    now = _parse_now(now_text)
    with opened_database(db) as database, database.read() as connection:
        campaign = get_campaign(connection, name)
        contacts = first_pending_contacts(connection, campaign.id, limit)
        zones = pending_by_zone(connection, campaign.id, now)
    settings = campaign.settings
    views = [zone_view(count, settings.window, now) for count in zones]
    buckets: Counter[str] = Counter()
    for view in views:
        buckets[opening_bucket(view.opens_at, now)] += view.count.due
        buckets[WAITING] += view.count.waiting
    defaulted = [view for view in views if view.count.timezone_source is TimezoneSource.DEFAULT]
    if as_json:
        echo_json(
            _document(campaign.name, now, settings.played_message(), contacts, views, buckets)
        )
        return
    pending = sum(view.count.pending for view in views)
    click.echo(
        f"campaign {campaign.name!r} ({campaign.status}, {settings.provider}): "
        f"{pending:,} pending contacts, as of {when(now)}"
    )
    click.echo(f"window: {window_words(settings.window)}")
    keys = settings.keys
    if keys.collects_keys:
        menu = [f"{key}={label}" for key, label in keys.keys.items()]
        if keys.opt_out_key is not None:
            menu.append(f"{keys.opt_out_key}=opt out (do-not-call list)")
        click.echo(f"keys: {', '.join(menu)}")
    if limit:
        _echo_messages(settings.played_message(), contacts)
    if not views:
        return
    click.echo("\npending contacts by time zone:")
    rows: list[list[Cell]] = [
        [
            view.count.timezone,
            view.count.timezone_source.value,
            view.count.pending,
            view.describe(now),
        ]
        for view in views
    ]
    click.echo(table(["TIME ZONE", "CHOSEN BY", "CONTACTS", "WINDOW"], rows, indent="  "))
    click.echo("\npending contacts by when their window next opens:")
    bucket_rows: list[list[Cell]] = [
        [bucket, buckets[bucket]] for bucket in BUCKETS if buckets[bucket]
    ]
    click.echo(table(["WHEN", "CONTACTS"], bucket_rows, indent="  "))
    if defaulted:
        count = sum(view.count.pending for view in defaulted)
        default_zones = ", ".join(view.count.timezone for view in defaulted)
        click.secho(
            f"\nwarning: {count:,} pending contacts have no time zone of their own (no time zone "
            f"column, and their number maps to no single zone): they are called by the clock of "
            f"the campaign's default zone ({default_zones}); check that it suits them",
            fg="yellow",
        )


def _echo_messages(message: Message, contacts: list[PendingContact]) -> None:
    if not contacts:
        click.echo("\nno pending contacts: import some with `campaigner import`")
        return
    click.echo(f"\nmessage ({message.kind}) for the first {len(contacts)} pending contacts:")
    rows = []
    for contact in contacts:
        text, missing = render_message(message, contact.fields)
        if missing:
            text = f"cannot be played: no value in column {', '.join(missing)}"
        rows.append([contact.phone, " ".join(text.split())])
    click.echo(table(["PHONE", "HEARS"], rows, indent="  "))


def _document(
    name: str,
    now: datetime,
    message: Message,
    contacts: list[PendingContact],
    views: list[ZoneView],
    buckets: Counter[str],
) -> dict[str, Any]:
    messages = []
    for contact in contacts:
        text, missing = render_message(message, contact.fields)
        messages.append(
            {
                "phone": contact.phone,
                "timezone": contact.timezone,
                "timezone_source": contact.timezone_source.value,
                "message": None if missing else text,
                "missing_columns": missing,
            }
        )
    return {
        "campaign": name,
        "now": now,
        "pending": sum(view.count.pending for view in views),
        "messages": messages,
        "timezones": [
            {
                "timezone": view.count.timezone,
                "timezone_source": view.count.timezone_source.value,
                "due": view.count.due,
                "waiting_for_retry": view.count.waiting,
                "window_opens_at": view.opens_at,
                "window_closes_at": view.closes_at,
            }
            for view in views
        ],
        "by_next_opening": {bucket: buckets[bucket] for bucket in BUCKETS},
    }


def _parse_now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(f"--now {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ValidationError(f"--now {text!r} needs an offset, e.g. {text}Z or {text}+01:00")
    return moment.astimezone(UTC)


def _span(wait: timedelta) -> str:
    """A wait rounded to the minute, as `2h5m`; under a minute is `1m`."""
    return format_duration(max(60, round(wait.total_seconds() / 60) * 60))
