"""`campaigner campaign callback`: point a provider's call events at the receiver, for a provider
that takes its callback URL once per caller ID (Fractel) instead of with each call."""

from __future__ import annotations

import anyio
import click

from ..config import load_settings
from ..errors import ConfigError
from ..providers import adapter_for
from ..store.campaigns import get_campaign
from .app import check_public_url, config_option, database_option, opened_database


@click.command("callback")
@click.argument("name")
@click.option(
    "--public-url",
    metavar="URL",
    required=True,
    help="The address providers reach the receiver at (`campaigner serve`, or `campaigner run` "
    "with --listen and --public-url), e.g. https://hooks.example.com.",
)
@config_option("the provider keys and webhook credentials")
@database_option
def callback_command(name: str, public_url: str, config_file: str | None, db: str | None) -> None:
    """Have the provider of campaign NAME post its call events to the receiver at --public-url.

    Fractel posts the events of every call from a FoneNumber to the one callback set on that
    FoneNumber (its POST /calls/send_notify): run this once for the campaign's caller ID, and
    again whenever the receiver's address or token changes. Fractel cannot send HTTP Basic, so
    the URL carries the receiver's token (CAMPAIGNER_WEBHOOK_TOKEN). EnableX and Webex Connect
    take the URL with each call: for them there is nothing to set.
    """
    check_public_url(public_url)
    with opened_database(db) as database, database.read() as connection:
        campaign = get_campaign(connection, name)
    provider = campaign.settings.provider
    adapter = adapter_for(provider)
    if not adapter.capabilities.callback_per_caller_id:
        click.echo(f"{provider.value} takes the callback URL with each call: nothing to set")
        return
    # Imported here: the other `campaign` commands need neither the receiver nor the dialer.
    from ..dialer.callbacks import point_callbacks
    from ..receiver import WebhookAuth

    settings = load_settings(config_file)
    credentials = adapter.credentials(settings)
    auth = WebhookAuth.from_settings(settings)
    if not auth.token:
        raise ConfigError(_needs_token(provider.value))
    url = auth.callback_url(public_url, provider)
    caller_id = campaign.settings.caller_id
    anyio.run(point_callbacks, adapter, caller_id, url, credentials)
    shown = auth.shown_callback_url(public_url, provider)
    click.echo(f"{provider.value}: calls from {caller_id} now post their events to {shown}")


def _needs_token(provider: str) -> str:
    return (
        f"{provider} cannot send HTTP Basic: its callback URL carries the receiver's token; set "
        "CAMPAIGNER_WEBHOOK_TOKEN (or `token` under [receiver] in campaigner.toml)"
    )
