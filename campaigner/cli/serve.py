"""`campaigner serve`: the webhook receiver on its own, for late events or behind a proxy."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

import anyio
import click

from ..config import Settings, load_settings
from ..db import Database
from ..model import Provider
from ..notifications import NotificationSender
from ..receiver import WebhookAuth, create_app, start_receiver
from .app import check_public_url, config_option, database_option, main, opened_database

try:
    import uvloop

    _loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
    _loop_factory = None

# Where each provider takes its callback URL.
_WHERE = {
    Provider.ENABLEX: "event_url, sent with each call",
    Provider.FRACTEL: "set once per FoneNumber: `campaigner campaign callback`",
    Provider.WEBEX: "callbackUrl, sent with each call",
}


@main.command("serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Use 0.0.0.0 only to take webhooks straight from the internet; "
    "behind a reverse proxy keep the default.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="Port to listen on (0: any free port, printed at start).",
)
@click.option(
    "--public-url",
    metavar="URL",
    help="The address providers reach this receiver at, e.g. https://hooks.example.com; the "
    "callback URLs printed are built on it. [default: http://HOST:PORT]",
)
@config_option("the webhook credentials and provider keys")
@database_option
def serve(
    host: str, port: int, public_url: str | None, config_file: str | None, db: str | None
) -> None:
    """Receive the providers' call events (webhooks) until interrupted.

    `campaigner run` receives webhooks itself while it dials; run this to keep receiving after it
    exits (late events), or as the one receiver behind a reverse proxy. Every webhook must carry
    the receiver's credentials: the token from CAMPAIGNER_WEBHOOK_TOKEN in its path
    (/hooks/PROVIDER/TOKEN), or HTTP Basic with CAMPAIGNER_WEBHOOK_USER and
    CAMPAIGNER_WEBHOOK_PASSWORD; without either the receiver refuses to start.

    It also sends the campaigns' outcome notifications (--notify-url), signed with
    CAMPAIGNER_NOTIFY_SECRET, retrying those a target has not taken yet.

    SIGINT (Ctrl+C) or SIGTERM stops it after the requests under way are answered and stored.
    """
    if public_url is not None:
        check_public_url(public_url)
    settings = load_settings(config_file)
    auth = WebhookAuth.from_settings(settings).check()
    with opened_database(db) as database:
        _log_to_stderr()
        with asyncio.Runner(loop_factory=_loop_factory) as runner:
            runner.run(_serve(database, settings, auth, host, port, public_url))
    click.echo("Stopped.")


async def _serve(
    database: Database,
    settings: Settings,
    auth: WebhookAuth,
    host: str,
    port: int,
    public_url: str | None,
) -> None:
    app = create_app(database, settings, auth=auth)
    running = await start_receiver(app, host, port)
    click.echo(f"Listening on {running.url} (database {database.display_url})")
    click.echo("Callback URLs for the providers:")
    for provider, where in _WHERE.items():
        shown = auth.shown_callback_url(public_url or running.url, provider)
        click.echo(f"  {provider.value:<8} {shown}  ({where})")
    if not auth.token:
        click.echo("  Fractel cannot send HTTP Basic: set CAMPAIGNER_WEBHOOK_TOKEN for it.")
    secret = settings.get("notify", "secret")
    sender = NotificationSender(database, secret) if secret else None
    if sender is None:
        click.echo("Outcome notifications are not sent: CAMPAIGNER_NOTIFY_SECRET is not set.")
    # Stopped through an anyio scope, not Task.cancel(): the sender shields the batch it is
    # sending from the scope's cancellation, so that what was delivered is recorded as such.
    sending_scope = anyio.CancelScope()

    async def send_notifications(sender: NotificationSender) -> None:
        with sending_scope:
            await sender.run()

    sending = asyncio.create_task(send_notifications(sender)) if sender else None
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stopping.set)
    try:
        signalled = asyncio.create_task(stopping.wait())
        ended = asyncio.create_task(running.wait())
        await asyncio.wait({signalled, ended}, return_when=asyncio.FIRST_COMPLETED)
        signalled.cancel()
        ended.cancel()
        click.echo("Stopping: answering the requests under way...")
        await running.stop()
    finally:
        if sending is not None and sender is not None:
            sending_scope.cancel()
            await asyncio.gather(sending, return_exceptions=True)
            await sender.close()
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(number)


def _log_to_stderr() -> None:
    """Warnings and our own lines; uvicorn's start and stop lines say what `serve` prints."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("uvicorn").setLevel(logging.WARNING)
