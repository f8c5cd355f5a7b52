"""One `campaigner run`: the campaign made ready, the webhook receiver beside the dialer, signals.

    result = await run_campaign(database, "reminders", settings, reporter=...,
                                options=RunOptions(), receiver=ReceiverOptions())

Running a campaign is the operator's act: a DRAFT campaign is set RUNNING, and so is a COMPLETED
one with contacts to call again (a new import). A PAUSED one is resumed only when asked
(`resume`, the CLI's --resume): a pause is somebody's decision (an operator's, or the circuit
breaker's after the provider refused or failed), and a run started by cron must not undo it. A
cancelled campaign, a paused one not resumed, or a completed one with nothing left, is reported
and left alone.

The receiver runs in the same process, or with `ReceiverOptions.process` in a process of its own
that the run starts and stops (`receiver.serving_in_child`: what `campaigner run` does, so that
the dialing loop has a core to itself), unless `ReceiverOptions.enabled` is off (a separate
`campaigner serve` takes the webhooks, at `public_url`). Without webhook credentials configured,
an in-process receiver makes up a one-off token for the run: webhooks arriving after the run
exits are then refused, which is why `campaigner serve` with a configured token exists.
"""

from __future__ import annotations

import contextlib
import secrets
import shlex
import signal
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial

import anyio
from anyio import CancelScope
from sqlalchemy import Connection

from ..campaigns import Campaign
from ..collection import fewer_collections
from ..config import Settings
from ..db import Database
from ..errors import ConfigError
from ..model import CampaignStatus, ContactState
from ..notifications import NotificationSender
from ..providers import ProviderAdapter, adapter_for
from ..receiver import WebhookAuth, create_app, serving, serving_in_child
from ..store.attempts import Applied
from ..store.campaigns import contact_counts, get_campaign, set_status
from .engine import Dialer, RunOptions
from .reporting import Reporter, RunResult
from .stopping import Stop

YOUNG_THRESHOLD = 10_000  # objects between collections of the youngest generation, dialing


@dataclass(frozen=True)
class ReceiverOptions:
    enabled: bool = True  # serve webhooks in this process
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port
    public_url: str | None = None  # where providers reach the receiver; default: where it listens
    process: bool = False  # serve it from a child process (see the module docstring)


async def run_campaign(
    database: Database,
    name: str,
    settings: Settings,
    *,
    reporter: Reporter,
    options: RunOptions | None = None,
    receiver: ReceiverOptions | None = None,
    resume: bool = False,
    handle_signals: bool = False,
) -> RunResult:
    """Dial campaign `name` until it stops (see `engine`); the result says why.

    Outcome notifications (of any campaign) are sent beside the dialer when the notification
    secret is set, which a campaign with a notify URL requires."""
    with database.read() as connection:
        campaign = get_campaign(connection, name)
    secret = settings.get("notify", "secret")
    if campaign.settings.notify_url is not None and not secret:
        raise ConfigError(
            f"campaign {campaign.name!r} sends notifications to {campaign.settings.notify_url}: "
            "set CAMPAIGNER_NOTIFY_SECRET (or `secret` under [notify] in campaigner.toml) to sign "
            "them"
        )
    options = options or RunOptions()
    dialing = partial(
        _run_campaign,
        database,
        campaign,
        settings,
        reporter=reporter,
        options=options,
        receiver=receiver or ReceiverOptions(),
        resume=resume,
        handle_signals=handle_signals,
    )
    with fewer_collections(YOUNG_THRESHOLD):
        if not secret:
            return await dialing()
        sender = NotificationSender(database, secret)
        return await _notifying(sender, dialing, reporter, options.notify_drain)


async def _notifying(
    sender: NotificationSender,
    dialing: Callable[[], Awaitable[RunResult]],
    reporter: Reporter,
    drain: float,
) -> RunResult:
    """Send notifications while dialing; at the end, up to `drain` seconds delivering the rest
    (the campaign's completion, retries falling due), so that a run from cron leaves little
    behind. What is left waits for the next run or `campaigner serve`."""
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(sender.run)
            result = await dialing()
            tasks.cancel_scope.cancel()
        left = await sender.drain(drain)
    finally:
        with anyio.CancelScope(shield=True):
            await sender.close()
    if left:
        reporter.note(
            "notifications.undelivered",
            f"{left} outcome notification(s) not delivered yet: they are retried by the next "
            "`campaigner run` or by `campaigner serve`",
        )
    return result


async def _run_campaign(
    database: Database,
    campaign: Campaign,
    settings: Settings,
    *,
    reporter: Reporter,
    options: RunOptions,
    receiver: ReceiverOptions,
    resume: bool,
    handle_signals: bool,
) -> RunResult:
    adapter = adapter_for(campaign.settings.provider)
    credentials = adapter.credentials(settings)  # ConfigError before anything changes
    adapter.check_message(campaign.settings.message)
    adapter.check_caller_id(campaign.settings.caller_id)
    adapter.check_keys(campaign.settings.keys)
    auth = WebhookAuth.from_settings(settings)
    if adapter.capabilities.callback_per_caller_id and not auth.token:
        raise ConfigError(_needs_fixed_callback(campaign))
    with database.write() as connection:
        started = _make_running(connection, campaign, reporter, resume)
    if isinstance(started, RunResult):
        reporter.finished(started)
        return started
    campaign = started

    def dial(callback_url: str | None) -> Dialer:
        return Dialer(
            database,
            campaign,
            adapter,
            credentials,
            reporter,
            callback_url=callback_url,
            options=options,
        )

    if not receiver.enabled:
        callback = _callback_without_receiver(settings, receiver, adapter)
        return await _run(dial(callback), handle_signals)
    if not auth.token and not auth.user:
        auth = WebhookAuth(token=secrets.token_urlsafe(24))
        reporter.note(
            "receiver.one_off_token",
            "no webhook credentials configured: this run's receiver uses a one-off token, so "
            "webhooks arriving after it exits are refused (configure CAMPAIGNER_WEBHOOK_TOKEN "
            "and use `campaigner serve` for those)",
        )
    dialers: list[Dialer] = []  # the receiver starts first; the dialer needs its URL

    def applied(result: Applied) -> None:
        for dialer in dialers:
            dialer.on_applied(result)

    def lost(message: str) -> None:
        for dialer in dialers:
            dialer.request_stop(Stop.RECEIVER_LOST, message)

    async with contextlib.AsyncExitStack() as serving_stack:
        if receiver.process:
            url = await serving_stack.enter_async_context(
                serving_in_child(
                    database,
                    settings,
                    auth,
                    receiver.host,
                    receiver.port,
                    on_applied=applied,
                    on_lost=lost,
                )
            )
        else:
            app = create_app(database, settings, auth=auth, on_applied=applied)
            running = await serving_stack.enter_async_context(
                serving(app, receiver.host, receiver.port)
            )
            url = running.url
        public_url = receiver.public_url or url
        provider = campaign.settings.provider
        where = " (its own process)" if receiver.process else ""
        reporter.note(
            "receiver.listening",
            f"receiving webhooks on {url}{where}; providers post to "
            f"{auth.shown_callback_url(public_url, provider)}",
            url=url,
        )
        if adapter.capabilities.callback_per_caller_id:
            reporter.note(
                "receiver.callback_per_caller_id",
                f"{provider.value} posts to the callback set on {campaign.settings.caller_id}: "
                "`campaigner campaign callback` sets it",
            )
        dialer = dial(auth.callback_url(public_url, provider))
        dialers.append(dialer)
        return await _run(dialer, handle_signals)


async def _run(dialer: Dialer, handle_signals: bool) -> RunResult:
    if not handle_signals:
        return await dialer.run()
    result: RunResult | None = None
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(_watch_signals, dialer, tasks.cancel_scope)
        result = await dialer.run()
        tasks.cancel_scope.cancel()
    if result is None:  # a second signal: stopped at once, without waiting for calls to end
        result = RunResult(
            dialer.campaign.name,
            Stop.INTERRUPTED,
            "stopped at once: requests sent and not answered are settled by the next run",
            dialer.dialled,
            0.0,
        )
        dialer.reporter.finished(result)
    return result


async def _watch_signals(dialer: Dialer, scope: CancelScope) -> None:
    """The first SIGINT or SIGTERM winds the run down; a second one cuts it short."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for received in signals:
            if dialer.stop is not None and dialer.stop is Stop.INTERRUPTED:
                scope.cancel()
                return
            dialer.request_stop(
                Stop.INTERRUPTED,
                f"{signal.Signals(received).name}: stopping (again to stop at once)",
            )


def _make_running(
    connection: Connection, campaign: Campaign, reporter: Reporter, resume: bool
) -> Campaign | RunResult:
    status = campaign.status
    counts = contact_counts(connection, [campaign.id])[campaign.id]
    if status is CampaignStatus.CANCELLED:
        return _early(
            campaign, Stop.CANCELLED, "the campaign is cancelled: nothing to dial", counts
        )
    if status is CampaignStatus.PAUSED and not resume:
        why = f" ({campaign.status_reason})" if campaign.status_reason else ""
        name = shlex.quote(campaign.name)
        return _early(
            campaign,
            Stop.PAUSED,
            f"the campaign is paused{why}: nothing dialled; resume it with "
            f"`campaigner run {name} --resume` or `campaigner campaign resume {name}`",
            counts,
        )
    if status is CampaignStatus.COMPLETED and not (
        counts[ContactState.PENDING] or counts[ContactState.IN_PROGRESS]
    ):
        return _early(
            campaign, Stop.FINISHED, "the campaign is completed: every contact is final", counts
        )
    if status is not CampaignStatus.RUNNING:
        campaign = set_status(connection, campaign, CampaignStatus.RUNNING)
        reporter.note(
            "campaign.running", f"campaign {campaign.name} was {status.value}: now running"
        )
    return campaign


def _early(
    campaign: Campaign, stop: Stop, message: str, counts: Mapping[ContactState, int]
) -> RunResult:
    return RunResult(campaign.name, stop, message, 0, 0.0, dict(counts))


def _callback_without_receiver(
    settings: Settings, receiver: ReceiverOptions, adapter: ProviderAdapter
) -> str | None:
    """The callback URL given to providers when `campaigner serve` receives the webhooks."""
    if receiver.public_url is None:
        raise ConfigError(
            "--no-receiver needs --public-url: where the providers reach `campaigner serve`"
        )
    auth = WebhookAuth.from_settings(settings).check()
    return auth.callback_url(receiver.public_url, adapter.provider)


def _needs_fixed_callback(campaign: Campaign) -> str:
    """Why a campaign whose provider takes one callback per caller ID needs a configured token:
    with a one-off token, no call's events would be taken, and each call would time out and be
    dialled again."""
    name = shlex.quote(campaign.name)
    provider = campaign.settings.provider.value
    return (
        f"campaign {campaign.name!r} dials through {provider}, which posts every call's events to "
        "the one callback URL set on the caller ID, with the receiver's token in it: set "
        "CAMPAIGNER_WEBHOOK_TOKEN (or `token` under [receiver] in campaigner.toml), then point "
        f"the caller ID at the receiver with `campaigner campaign callback {name} --public-url URL`"
    )
