"""`campaigner report`: a campaign's delivery report as CSV, JSON Lines, JSON or HTML."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

import click

from ..durations import parse_duration
from ..errors import ValidationError
from ..model import Outcome
from ..outfiles import written_in_place
from ..reports.definitions import ROW_STATES
from ..reports.exports import Format, export
from ..reports.queries import Filters
from ..store.campaigns import get_campaign
from .app import database_option, main, opened_database


@main.command("report")
@click.argument("campaign")
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in Format]),
    default=Format.CSV.value,
    show_default=True,
    help="csv and jsonl: one row per contact; json: the same with the summary first; html: "
    "the summary and charts, one self-contained page.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write here (replaced only once complete). [default: stdout]",
)
@click.option("--attempts", "per_attempt", is_flag=True, help="One row per call placed instead.")
@click.option(
    "--outcome",
    "outcomes",
    multiple=True,
    metavar="STATE[,STATE...]",
    help="Only rows in these states (repeatable; with --attempts: the calls' outcomes).",
)
@click.option(
    "--since",
    metavar="WHEN",
    help="Only contacts whose last call (calls, with --attempts) was placed at or after WHEN: "
    "an ISO 8601 time with its offset (2026-11-20T09:00-05:00, or Z for UTC), a date (midnight "
    "UTC), or a duration ago (90m, 2d).",
)
@click.option("--until", metavar="WHEN", help="... and before WHEN (same forms as --since).")
@click.option("--excel", is_flag=True, help="Start the CSV with a UTF-8 BOM, for Excel.")
@database_option
def report_command(
    campaign: str,
    fmt: str,
    out: Path | None,
    per_attempt: bool,
    outcomes: tuple[str, ...],
    since: str | None,
    until: str | None,
    excel: bool,
    db: str | None,
) -> None:
    """Write the delivery report of CAMPAIGN.

    Rows are: every contact (phone in E.164, state, calls, first and last call times in UTC and
    the contact's local time, answer and end times, duration, keys pressed, the provider's last
    reason and call ids, and the CSV's own columns), then every CSV row the imports rejected or
    found duplicate, with the reason. Suppressed contacts carry their do-not-call reason. CSV
    cells that a spreadsheet could run as a formula are prefixed with `'`.
    """
    chosen = Format(fmt)
    now = datetime.now(UTC)
    filters = Filters(
        states=_states(outcomes, per_attempt),
        since=_moment("--since", since, now),
        until=_moment("--until", until, now),
    )
    if excel and chosen is not Format.CSV:
        raise ValidationError("--excel applies to --format csv only")
    if chosen is Format.HTML and (per_attempt or filters.states or filters.by_time):
        raise ValidationError(
            "--format html reports the whole campaign: --attempts, --outcome, --since and "
            "--until apply to csv, jsonl and json"
        )
    with (
        opened_database(db) as database,
        database.read() as connection,
        _output(out, "utf-8-sig" if excel else "utf-8") as stream,
    ):
        found = get_campaign(connection, campaign)
        if chosen is Format.HTML:
            from ..reports.html import report_page  # ~0.05 CPU-s to import: only for HTML

            stream.write(report_page(connection, found, now))
            written = None
        else:
            written = export(
                connection, found, chosen, stream, per_attempt=per_attempt, filters=filters
            )
    if out is not None:
        what = "" if written is None else f"{written:,} {'calls' if per_attempt else 'rows'} to "
        click.echo(f"wrote {what}{out}", err=True)


def _states(values: tuple[str, ...], per_attempt: bool) -> frozenset[str]:
    allowed = [o.value for o in Outcome] if per_attempt else list(ROW_STATES)
    chosen = {part.strip() for value in values for part in value.split(",") if part.strip()}
    unknown = sorted(chosen - set(allowed))
    if unknown:
        kind = "call outcome" if per_attempt else "state"
        raise ValidationError(
            f"--outcome {', '.join(unknown)}: not a {kind} (one of {', '.join(allowed)})"
        )
    return frozenset(chosen)


def _moment(option: str, text: str | None, now: datetime) -> datetime | None:
    """An ISO 8601 time with an offset, a date (midnight UTC) or a duration before `now`."""
    if text is None:
        return None
    cleaned = text.strip()
    try:
        return now - timedelta(seconds=parse_duration(cleaned))
    except ValidationError:
        pass
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise ValidationError(
            f"{option} {text!r}: not a time (2026-11-20T09:00-05:00, 2026-11-20T14:00Z), "
            "a date (2026-11-20) or a duration ago (90m, 2d)"
        ) from None
    if moment.tzinfo is None:
        if len(cleaned) > 10:
            raise ValidationError(
                f"{option} {text!r} has no offset: add one (2026-11-20T09:00-05:00, or Z for UTC)"
            )
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@contextmanager
def _output(path: Path | None, encoding: str) -> Iterator[TextIO]:
    """stdout; or a temporary file beside `path` that replaces it only once complete, unless
    `path` is a device or a pipe (`outfiles`), written straight to."""
    if path is None:
        stdout = sys.stdout
        if encoding == "utf-8-sig":
            stdout.write("\ufeff")
        yield stdout
        stdout.flush()
        return
    if written_in_place(path):
        with path.open("w", encoding=encoding, newline="") as stream:
            yield stream
        return
    directory = path.resolve().parent
    if not directory.is_dir():
        raise ValidationError(f"--out {path}: directory {directory} does not exist")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding=encoding, newline="") as stream:
            yield stream
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
