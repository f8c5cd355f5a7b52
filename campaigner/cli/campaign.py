"""`campaigner campaign`: define, inspect and control campaigns."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

import click

from ..campaigns import Campaign, CampaignSettings
from ..durations import format_duration
from ..errors import InvalidTransition
from ..model import (
    RETRYABLE_OUTCOMES,
    CampaignStatus,
    ContactState,
    Outcome,
)
from ..store.campaigns import (
    campaign_imports,
    cancel_campaign,
    contact_counts,
    get_campaign,
    list_campaigns,
    set_status,
)
from .app import database_option, main, opened_database
from .callback import callback_command
from .create import create_command
from .output import Cell, echo_json, json_option, table, when, window_words
from .preview import preview_command

_UNDELIVERED = frozenset(ContactState(outcome.value) for outcome in Outcome) - {
    ContactState.DELIVERED
}


@main.group("campaign")
def campaign_group() -> None:
    """Define, inspect and control campaigns."""


campaign_group.add_command(create_command)
campaign_group.add_command(callback_command)
campaign_group.add_command(preview_command)


@campaign_group.command("list")
@json_option
@database_option
def list_command(as_json: bool, db: str | None) -> None:
    """List campaigns with their status and how many contacts are in each state."""
    with opened_database(db) as database, database.read() as connection:
        found = list_campaigns(connection)
        counts = contact_counts(connection, [campaign.id for campaign in found])
    if as_json:
        echo_json([_summary(campaign, counts[campaign.id]) for campaign in found])
        return
    if not found:
        click.echo("no campaigns yet: create one with `campaigner campaign create`")
        return
    rows: list[list[Cell]] = []
    for campaign in found:
        by_state = counts[campaign.id]
        rows.append(
            [
                campaign.name,
                campaign.settings.provider.value,
                campaign.status.value,
                by_state.total(),
                by_state[ContactState.PENDING] + by_state[ContactState.IN_PROGRESS],
                by_state[ContactState.DELIVERED],
                sum(by_state[state] for state in _UNDELIVERED),
                by_state[ContactState.SUPPRESSED],
                by_state[ContactState.CANCELLED],
                when(campaign.created_at),
            ]
        )
    headers = ["NAME", "PROVIDER", "STATUS", "CONTACTS", "PENDING", "DELIVERED", "UNDELIVERED"]
    click.echo(table([*headers, "SUPPRESSED", "CANCELLED", "CREATED"], rows))


@campaign_group.command("show")
@click.argument("name")
@json_option
@database_option
def show(name: str, as_json: bool, db: str | None) -> None:
    """Show every setting of campaign NAME, its contacts by state and its imports."""
    with opened_database(db) as database, database.read() as connection:
        campaign = get_campaign(connection, name)
        by_state = contact_counts(connection, [campaign.id])[campaign.id]
        imports = campaign_imports(connection, campaign.id)
    if as_json:
        echo_json(
            _summary(campaign, by_state)
            | _settings_document(campaign.settings)
            | {"imports": [vars(summary) for summary in imports]}
        )
        return
    for label, value in _settings_lines(campaign):
        click.echo(f"{label:<12}{value}")
    states = ", ".join(f"{state} {by_state[state]:,}" for state in ContactState if by_state[state])
    click.echo(f"{'contacts':<12}{by_state.total():,}" + (f": {states}" if states else ""))
    if not imports:
        click.echo(f"{'imports':<12}none yet")
        return
    click.echo("imports")
    rows: list[list[Cell]] = [
        [
            item.file_name,
            item.status,
            item.rows_read,
            item.imported,
            item.duplicates,
            item.suppressed,
            item.rejected,
            when(item.started_at),
        ]
        for item in imports
    ]
    headers = ["FILE", "STATUS", "ROWS", "IMPORTED", "DUPLICATES", "SUPPRESSED", "REJECTED"]
    click.echo(table([*headers, "STARTED"], rows, indent="  "))


_REASON = click.option("--reason", help="Why, in your words; `campaign show` displays it.")


@campaign_group.command("pause")
@click.argument("name")
@_REASON
@database_option
def pause(name: str, reason: str | None, db: str | None) -> None:
    """Stop placing new calls for campaign NAME; calls already ringing finish.

    Undo with `campaigner campaign resume`.
    """
    with opened_database(db) as database, database.write() as connection:
        campaign = get_campaign(connection, name)
        if campaign.status is CampaignStatus.PAUSED:
            click.echo(f"campaign {name!r} is already paused")
            return
        set_status(connection, campaign, CampaignStatus.PAUSED, reason)
        in_progress = contact_counts(connection, [campaign.id])[campaign.id][
            ContactState.IN_PROGRESS
        ]
    click.echo(f"paused campaign {name!r}: no new calls will be placed")
    if in_progress:
        click.echo(f"{in_progress:,} calls already placed will finish")


@campaign_group.command("resume")
@click.argument("name")
@database_option
def resume(name: str, db: str | None) -> None:
    """Let a paused campaign NAME place calls again.

    Only a campaign that was running before it was paused can be resumed. A campaign that has
    never run is started with `campaigner run` (`--resume` if it was paused before it started),
    and so is a completed one that has new contacts: resuming them is an error, so that nothing
    starts dialling by surprise. A cancelled campaign cannot be resumed. `campaigner run` leaves
    a paused campaign paused unless given `--resume`.
    """
    with opened_database(db) as database, database.write() as connection:
        campaign = get_campaign(connection, name)
        if campaign.status is CampaignStatus.RUNNING:
            click.echo(f"campaign {name!r} is already running")
            return
        _check_resumable(campaign)
        set_status(connection, campaign, CampaignStatus.RUNNING)
        pending = contact_counts(connection, [campaign.id])[campaign.id][ContactState.PENDING]
    click.echo(f"resumed campaign {name!r}: {pending:,} pending contacts will be dialled")


@campaign_group.command("cancel")
@click.argument("name")
@_REASON
@database_option
def cancel(name: str, reason: str | None, db: str | None) -> None:
    """Cancel campaign NAME for good: its pending contacts become cancelled and are never dialled.

    Calls already ringing finish. A cancelled campaign cannot be resumed.
    """
    with opened_database(db) as database, database.write() as connection:
        campaign = get_campaign(connection, name)
        already = campaign.status is CampaignStatus.CANCELLED
        result = cancel_campaign(connection, campaign, reason)
    state = "was already cancelled" if already else "cancelled"
    click.echo(
        f"campaign {name!r} {state}: {result.contacts_cancelled:,} pending contacts "
        "marked cancelled, never to be dialled"
    )
    if result.in_progress:
        click.echo(f"{result.in_progress:,} calls already placed will finish")


def _check_resumable(campaign: Campaign) -> None:
    name = campaign.name
    if campaign.status is CampaignStatus.CANCELLED:
        raise InvalidTransition(f"campaign {name!r} is cancelled: it cannot be resumed")
    if campaign.status is CampaignStatus.DRAFT or campaign.started_at is None:
        flag = " --resume" if campaign.status is CampaignStatus.PAUSED else ""
        raise InvalidTransition(
            f"campaign {name!r} has never run: start it with "
            f"`campaigner run {shlex.quote(name)}{flag}`"
        )
    if campaign.status is CampaignStatus.COMPLETED:
        raise InvalidTransition(
            f"campaign {name!r} is completed: to dial contacts imported since, use "
            f"`campaigner run {shlex.quote(name)}`"
        )


def _summary(campaign: Campaign, by_state: Mapping[ContactState, int]) -> dict[str, Any]:
    return {
        "name": campaign.name,
        "provider": campaign.settings.provider.value,
        "status": campaign.status.value,
        "status_reason": campaign.status_reason,
        "contacts": sum(by_state.values()),
        "contacts_by_state": {state.value: by_state.get(state, 0) for state in ContactState},
        "created_at": campaign.created_at,
        "started_at": campaign.started_at,
        "finished_at": campaign.finished_at,
    }


def _settings_document(settings: CampaignSettings) -> dict[str, Any]:
    message = settings.message
    return {
        "caller_id": settings.caller_id,
        "message": {
            "kind": message.kind.value,
            "body": message.body,
            "voice": message.voice,
            "language": message.language,
        },
        "calls_per_second": settings.calls_per_second,
        "max_in_flight": settings.max_in_flight,
        "max_attempts": settings.retry.max_attempts,
        "retry_delays": {
            outcome.value: settings.retry.delay_for(outcome)
            for outcome in Outcome
            if outcome in RETRYABLE_OUTCOMES
        },
        "window": {
            "start": f"{settings.window.start:%H:%M}",
            "end": f"{settings.window.end:%H:%M}",
            "days": settings.window.days_text,
        },
        "default_region": settings.default_region,
        "default_timezone": settings.default_timezone,
        "keys": dict(settings.keys.keys),
        "opt_out_key": settings.keys.opt_out_key,
        "key_timeout": settings.keys.key_timeout,
        "replay_on_no_input": settings.keys.replay_on_no_input,
        "notify_url": settings.notify_url,
    }


def _settings_lines(campaign: Campaign) -> list[tuple[str, str]]:
    settings = campaign.settings
    message = settings.message
    status = campaign.status.value
    if campaign.status_reason:
        status += f" ({campaign.status_reason})"
    tts = [f"voice {message.voice}"] if message.voice else []
    tts += [f"language {message.language}"] if message.language else []
    delays = {outcome: settings.retry.delay_for(outcome) for outcome in RETRYABLE_OUTCOMES}
    retries = ", ".join(
        f"{outcome.value.replace('_', ' ')} after {format_duration(delays[outcome])}"
        for outcome in Outcome
        if outcome in delays
    )
    keys = settings.keys
    menu = [f"{key}={label}" for key, label in keys.keys.items()]
    if keys.opt_out_key is not None:
        menu.append(f"{keys.opt_out_key}=opt out")
    waits = [f"wait {keys.key_timeout}s"] if keys.key_timeout is not None else []
    waits += ["replay once on no input"] if keys.replay_on_no_input else []
    return [
        ("campaign", campaign.name),
        ("status", status),
        ("provider", settings.provider.value),
        ("caller ID", settings.caller_id),
        ("message", f"{message.kind.value}: {message.body}"),
        *([("speech", ", ".join(tts))] if tts else []),
        (
            "pace",
            f"up to {settings.calls_per_second:g} calls a second, {settings.max_in_flight} at once",
        ),
        ("attempts", f"at most {settings.retry.max_attempts} per contact; retry {retries}"),
        ("window", window_words(settings.window)),
        ("region", settings.default_region or "none: every number needs its country code"),
        ("time zone", f"{settings.default_timezone} for numbers with no single zone of their own"),
        *([("keys", "; ".join([", ".join(menu), *waits]))] if menu else []),
        *([("notify", settings.notify_url)] if settings.notify_url else []),
        ("created", when(campaign.created_at)),
        ("started", when(campaign.started_at)),
        ("finished", when(campaign.finished_at)),
    ]
