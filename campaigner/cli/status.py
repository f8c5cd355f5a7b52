"""`campaigner status`: where campaigns stand, during a run (from another terminal) or after."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime

import click

from ..db import Database
from ..durations import format_duration
from ..reports.definitions import STATE_ORDER, decimal, percent
from ..reports.status import Status, all_statuses, campaign_status
from .app import database_option, main, opened_database
from .output import Cell, json_option, table, when


@main.command("status")
@click.argument("campaign", required=False)
@json_option
@click.option("--watch", is_flag=True, help="Show it again every --interval seconds until Ctrl-C.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.5),
    default=2.0,
    show_default=True,
    help="Seconds between refreshes with --watch.",
)
@database_option
def status_command(
    campaign: str | None, as_json: bool, watch: bool, interval: float, db: str | None
) -> None:
    """Show contacts by outcome, calls placed, the delivery rate and the dialling pace of
    CAMPAIGN (of every campaign when none is named).

    Safe while `campaigner run` is dialling: it only reads. The numbers follow the definitions in
    the README ("Reports"); `campaigner report` and the status page use the same. With --watch,
    a terminal is redrawn in place; anything else gets each refresh appended.
    """
    with opened_database(db) as database:
        try:
            while True:
                text = _render(_read(database, campaign), campaign is None, as_json)
                if not watch:
                    click.echo(text)
                    return
                if sys.stdout.isatty():
                    click.clear()
                click.echo(text + ("\n" if not as_json else ""))
                time.sleep(interval)
        except KeyboardInterrupt:  # the way out of --watch
            return


def _read(database: Database, campaign: str | None) -> list[Status]:
    now = datetime.now(UTC)
    with database.read() as connection:
        if campaign is None:
            return all_statuses(connection, now)
        return [campaign_status(connection, campaign, now)]


def _render(statuses: list[Status], every: bool, as_json: bool) -> str:
    if as_json:
        documents = [status.document() for status in statuses]
        return _json_text(documents if every else documents[0])
    if not every:
        return _details(statuses[0])
    if not statuses:
        return "no campaigns yet: create one with `campaigner campaign create`"
    rows: list[list[Cell]] = [
        [
            s.campaign.name,
            s.campaign.status.value,
            s.summary.contacts,
            s.summary.delivered,
            percent(s.summary.delivery_rate),
            s.summary.remaining,
            s.summary.in_flight,
            f"{s.rate:.2f}",
        ]
        for s in statuses
    ]
    headers = ["NAME", "STATUS", "CONTACTS", "DELIVERED", "RATE", "NOT FINAL", "IN FLIGHT"]
    return table([*headers, "CALLS/S"], rows)


def _json_text(document: object) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False)


def _details(status: Status) -> str:
    summary = status.summary
    campaign = status.campaign
    reason = f" ({campaign.status_reason})" if campaign.status_reason else ""
    finish = status.time_to_finish
    if finish is None:
        finish_text = "unknown: nothing is being dialled"
    elif not finish:
        finish_text = "nothing left"
    else:
        finish_text = f"at least {format_duration(int(finish.total_seconds()))} at this pace"
    if status.open_now:
        window = "open now for some pending contacts"
    elif status.next_opening is not None:
        window = f"opens {when(status.next_opening)}"
    else:
        window = "no pending contacts"
    lines = [
        ("campaign", f"{campaign.name}: {campaign.status.value}{reason}"),
        ("as of", when(status.now)),
        ("contacts", f"{summary.contacts:,}"),
    ]
    for state in STATE_ORDER:
        count = summary.by_state.get(state, 0)
        if count:
            lines.append((f"  {state.value}", f"{count:,}"))
    lines += [
        ("calls placed", f"{summary.attempts:,}"),
        ("dialled", f"{summary.dialled:,} contacts called at least once"),
        ("delivery rate", f"{percent(summary.delivery_rate)} (delivered / dialled)"),
        ("reach", f"{percent(summary.reach_rate)} (delivered / contacts)"),
        ("calls per delivered", decimal(summary.attempts_per_delivered)),
        ("pace", f"{status.rate:.2f} calls/s over the last minute"),
        ("in flight", f"{summary.in_flight:,} calls"),
        ("to finish", finish_text),
        ("window", window),
    ]
    if status.next_retry is not None:
        lines.append(("next retry", when(status.next_retry)))
    if summary.rejected_rows or summary.duplicate_rows:
        lines.append(
            (
                "not imported",
                f"{summary.rejected_rows:,} rejected, {summary.duplicate_rows:,} duplicate rows",
            )
        )
    for label, count in summary.responses.items():
        lines.append((f"response {label}", f"{count:,}"))
    width = max(len(label) for label, _ in lines) + 2
    return "\n".join(f"{label:<{width}}{value}" for label, value in lines)
