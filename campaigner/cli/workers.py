"""`campaigner workers`: the `campaigner run` processes of each campaign, and what they hold."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import click

from ..store.campaigns import get_campaign
from ..store.workers import Identity, list_workers
from .app import database_option, main, opened_database
from .output import Cell, echo_json, json_option, table, when

# Stopped workers are shown for this long after they stopped, unless --all.
RECENT = timedelta(hours=24)


@main.command("workers")
@click.option("--campaign", "campaign_name", metavar="NAME", help="Only this campaign's workers.")
@click.option(
    "--all", "show_all", is_flag=True, help="Every worker ever recorded, not just the last day's."
)
@json_option
@database_option
def workers_command(
    campaign_name: str | None, show_all: bool, as_json: bool, db: str | None
) -> None:
    """List the workers (`campaigner run` processes) dialing each campaign, newest first.

    STATE is live (its lease is current), dead (its lease has expired, or its process is gone
    from this host: the next heartbeat of a live worker will stop it and take over its work) or
    stopped (it ended, or another worker stopped it: REASON says which). CLAIMED counts the
    contacts it holds whose requests have not been sent (a dead worker's go back to the queue);
    CALLS the attempts it holds that may have been sent and have no outcome yet (a dead worker's
    are taken over, never redialled blind). Stopped workers are shown for a day unless --all.
    """
    now = datetime.now(UTC)
    with opened_database(db) as database, database.read() as connection:
        campaign_id = get_campaign(connection, campaign_name).id if campaign_name else None
        found = list_workers(
            connection,
            now,
            Identity.of_this_process(),
            campaign_id=campaign_id,
            stopped_since=None if show_all else now - RECENT,
        )
    if as_json:
        echo_json([asdict(worker) for worker in found])
        return
    if not found:
        click.echo("no workers: none has run in the last day (--all for older ones)")
        return
    rows: list[list[Cell]] = [
        [
            worker.id,
            worker.campaign,
            worker.host,
            str(worker.pid),  # a pid, not a quantity: no thousands separator
            worker.state,
            when(worker.started_at),
            _ago(now, worker.heartbeat_at),
            worker.claimed,
            worker.calls,
            worker.reason,
        ]
        for worker in found
    ]
    headers = ["ID", "CAMPAIGN", "HOST", "PID", "STATE", "STARTED", "HEARTBEAT", "CLAIMED"]
    click.echo(table([*headers, "CALLS", "REASON"], rows))


def _ago(now: datetime, moment: datetime) -> str:
    seconds = max(0, round((now - moment).total_seconds()))
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60}m ago"
    return when(moment)
