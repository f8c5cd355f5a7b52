"""`campaigner campaign create`: define a campaign, checking everything before it is stored."""

from __future__ import annotations

import importlib.resources
import shlex
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from ..campaigns import CampaignSettings, Message, RetryPolicy
from ..config import load_settings
from ..durations import parse_duration
from ..errors import ConfigError, ValidationError
from ..model import RETRYABLE_OUTCOMES, MessageKind, Outcome, Provider
from ..providers import adapter_for
from ..responses import KeyMenu, parse_key_option
from ..store.campaigns import create_campaign
from ..windows import CallingWindow
from .app import config_option, database_option, opened_database
from .output import window_words

# Message options: option name -> (kind, whether its value names a file to read the body from).
_MESSAGE_OPTIONS: Mapping[str, tuple[MessageKind, bool]] = {
    "tts": (MessageKind.TTS, False),
    "tts_file": (MessageKind.TTS, True),
    "ssml": (MessageKind.SSML, False),
    "ssml_file": (MessageKind.SSML, True),
    "audio_url": (MessageKind.AUDIO_URL, False),
    "audio_url_column": (MessageKind.AUDIO_URL_COLUMN, False),
    "prompt": (MessageKind.PROMPT, False),
}


@click.command("create")
@click.argument("name")
@click.option(
    "--provider",
    type=click.Choice([provider.value for provider in Provider]),
    required=True,
    help="The voice provider that places the calls.",
)
@click.option(
    "--caller-id",
    required=True,
    help="The number callees see; must be provisioned on the provider account.",
)
@click.option("--tts", metavar="TEXT", help="Text to speak; {column} inserts a CSV value.")
@click.option(
    "--tts-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the text to speak from a UTF-8 file.",
)
@click.option("--ssml", metavar="SSML", help="SSML to speak (<speak>...</speak>), with {column}.")
@click.option(
    "--ssml-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the SSML from a UTF-8 file.",
)
@click.option("--audio-url", metavar="URL", help="One audio file, played to everyone.")
@click.option(
    "--audio-url-column",
    metavar="COLUMN",
    help="The CSV column holding each contact's own audio file URL.",
)
@click.option(
    "--prompt",
    metavar="NAME",
    help="A prompt stored at the provider (EnableX prompt name, Webex Connect media id).",
)
@click.option("--voice", help="TTS voice, as the provider names it (EnableX: male or female).")
@click.option("--language", help="TTS language, e.g. en-US.")
@click.option(
    "--cps",
    type=float,
    default=1.0,
    show_default=True,
    help="Calls started per second, at most.",
)
@click.option(
    "--max-in-flight",
    type=int,
    default=10,
    show_default=True,
    help="Calls in progress at once, at most.",
)
@click.option(
    "--max-attempts",
    type=int,
    default=3,
    show_default=True,
    help="Calls per contact, at most, counting the first.",
)
@click.option(
    "--retry-delay",
    "retry_delays",
    metavar="OUTCOME=DURATION",
    multiple=True,
    help="Wait before retrying after busy, no_answer or failed, e.g. busy=10m, no_answer=1h30m."
    " Repeatable. [default: busy=10m, no_answer=1h, failed=30m]",
)
@click.option(
    "--window",
    default="09:00-20:00",
    show_default=True,
    metavar="HH:MM-HH:MM",
    help="Calling hours in each contact's local time; an end before the start spans midnight.",
)
@click.option(
    "--days",
    default="mon-sun",
    show_default=True,
    help="Days the window opens: mon-fri, sat,sun, weekdays, daily...",
)
@click.option(
    "--region",
    metavar="CC",
    help="Country (ISO 3166 alpha-2, e.g. US) of numbers written without a country code.",
)
@click.option(
    "--timezone",
    metavar="ZONE",
    help="IANA zone for numbers that map to no single zone. "
    "[default: the zone of --region if it has only one, else UTC]",
)
@click.option(
    "--key",
    "keys",
    metavar="DIGIT=LABEL",
    multiple=True,
    help="A key the callee may press after the message and what it means, e.g. 1=confirmed. "
    "Repeatable. The label becomes the contact's response.",
)
@click.option(
    "--opt-out-key",
    metavar="DIGIT",
    help='The key that puts the number on the global do-not-call list at once; "To stop '
    'receiving these calls, press DIGIT." is appended to a text or SSML message that does not '
    "already say it.",
)
@click.option(
    "--key-timeout",
    type=int,
    metavar="SECONDS",
    help="How long to wait for a key after the message. [default: the provider's]",
)
@click.option(
    "--replay-on-no-input",
    is_flag=True,
    help="Play the message once more when no key is pressed.",
)
@click.option(
    "--notify-url",
    metavar="URL",
    help="POST each contact's final outcome, and the campaign's completion, here as signed "
    "JSON (needs CAMPAIGNER_NOTIFY_SECRET; see the README).",
)
@config_option("the notification secret")
@database_option
def create_command(
    name: str,
    provider: str,
    caller_id: str,
    voice: str | None,
    language: str | None,
    cps: float,
    max_in_flight: int,
    max_attempts: int,
    retry_delays: tuple[str, ...],
    window: str,
    days: str,
    region: str | None,
    timezone: str | None,
    keys: tuple[str, ...],
    opt_out_key: str | None,
    key_timeout: int | None,
    replay_on_no_input: bool,
    notify_url: str | None,
    config_file: str | None,
    db: str | None,
    **message_options: Any,
) -> None:
    """Define a new campaign NAME, in draft: nothing is dialled until `campaigner run`.

    Exactly one message option (--tts, --tts-file, --ssml, --ssml-file, --audio-url,
    --audio-url-column, --prompt) says what callees hear. Everything is checked before the campaign
    is stored: the caller ID, the message and whether the provider can play it, the rates, the
    window and the time zone, the keys and whether the provider can collect them, and that the
    notification secret is set when --notify-url is given.
    """
    chosen_provider = Provider(provider)
    region = region.upper() if region else None
    zone, zone_note = _default_zone(timezone, region)
    settings = CampaignSettings(
        name=name,
        provider=chosen_provider,
        caller_id=caller_id,
        message=_message(message_options, voice, language),
        calls_per_second=cps,
        max_in_flight=max_in_flight,
        retry=RetryPolicy(max_attempts=max_attempts, delays=_retry_delays(retry_delays)),
        window=CallingWindow.parse(window, days),
        default_region=region,
        default_timezone=zone,
        keys=KeyMenu(
            keys=_menu(keys),
            opt_out_key=opt_out_key.strip() if opt_out_key is not None else None,
            key_timeout=key_timeout,
            replay_on_no_input=replay_on_no_input,
        ),
        notify_url=notify_url.strip() if notify_url is not None else None,
    ).validate()
    adapter = adapter_for(chosen_provider)
    adapter.check_caller_id(settings.caller_id)
    adapter.check_message(settings.message)
    adapter.check_keys(settings.keys)
    if settings.notify_url is not None and not load_settings(config_file).get("notify", "secret"):
        raise ConfigError(
            "--notify-url needs a secret to sign the notifications: set CAMPAIGNER_NOTIFY_SECRET "
            "(or `secret` under [notify] in campaigner.toml)"
        )
    with opened_database(db) as database, database.write() as connection:
        campaign = create_campaign(connection, settings)
    click.echo(
        f"created campaign {campaign.name!r} (draft): {campaign.settings.provider} calling from "
        f"{campaign.settings.caller_id}, {window_words(campaign.settings.window)}"
    )
    click.echo(f"time zone for numbers without one of their own: {zone} ({zone_note})")
    _echo_keys(campaign.settings)
    click.echo(f"next: campaigner import {shlex.quote(campaign.name)} CONTACTS.csv")


def _message(options: Mapping[str, Any], voice: str | None, language: str | None) -> Message:
    given = {option: value for option, value in options.items() if value is not None}
    flags = ", ".join("--" + option.replace("_", "-") for option in _MESSAGE_OPTIONS)
    if len(given) != 1:
        raise ValidationError(f"give exactly one message option: {flags}")
    ((option, value),) = given.items()
    kind, from_file = _MESSAGE_OPTIONS[option]
    body = _read_text(value) if from_file else value
    return Message(kind=kind, body=body.strip(), voice=voice, language=language)


def _menu(values: tuple[str, ...]) -> dict[str, str]:
    menu: dict[str, str] = {}
    for value in values:
        key, label = parse_key_option(value)
        if key in menu:
            raise ValidationError(f"--key {value!r}: key {key} is given twice")
        menu[key] = label
    return menu


def _echo_keys(settings: CampaignSettings) -> None:
    keys = settings.keys
    if keys.keys:
        menu = ", ".join(f"{key}={label}" for key, label in keys.keys.items())
        click.echo(f"keys: {menu}")
    if keys.opt_out_key is not None:
        click.echo(
            f"opt-out key: {keys.opt_out_key} (the number goes on the global do-not-call list)"
        )
        if settings.opt_out_prompt_missing:
            click.secho(
                f"warning: campaigner cannot add the opt-out prompt to a {settings.message.kind} "
                f"message: make sure the recording tells callees to press {keys.opt_out_key} "
                "to stop these calls",
                fg="yellow",
            )
    if settings.notify_url is not None:
        click.echo(f"notifications: POSTed to {settings.notify_url}, signed")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"cannot read message file {path}: {exc}") from None


def _retry_delays(values: tuple[str, ...]) -> dict[Outcome, int]:
    names = ", ".join(outcome.value for outcome in Outcome if outcome in RETRYABLE_OUTCOMES)
    delays: dict[Outcome, int] = {}
    for value in values:
        outcome_text, sep, duration = value.partition("=")
        outcome = outcome_text.strip().lower()
        if not sep or outcome not in {o.value for o in RETRYABLE_OUTCOMES}:
            raise ValidationError(
                f"--retry-delay {value!r} must look like OUTCOME=DURATION, OUTCOME one of {names}"
            )
        if Outcome(outcome) in delays:
            raise ValidationError(f"--retry-delay gives {outcome} twice")
        try:
            delays[Outcome(outcome)] = parse_duration(duration)
        except ValidationError as exc:
            raise ValidationError(f"--retry-delay {value!r}: {exc}") from None
    return delays


def _default_zone(timezone: str | None, region: str | None) -> tuple[str, str]:
    """The campaign's default zone, and a note saying why it was chosen."""
    if timezone:
        return timezone, "given with --timezone"
    if region is None:
        return "UTC", "no --region or --timezone given"
    zones = _zones_of_region(region)
    if len(zones) == 1:
        return zones[0], f"the only zone of region {region}"
    if not zones:
        return "UTC", f"no zone found for region {region}; choose one with --timezone"
    return "UTC", f"region {region} has {len(zones)} zones; choose one with --timezone"


def _zones_of_region(region: str) -> list[str]:
    """The IANA zones of a country, from the zone.tab of the time zone database in use."""
    for directory in zoneinfo.TZPATH:
        path = Path(directory) / "zone.tab"
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            break
    else:
        try:
            text = (importlib.resources.files("tzdata") / "zoneinfo" / "zone.tab").read_text()
        except (ModuleNotFoundError, FileNotFoundError):
            return []
    rows = (line.split("\t") for line in text.splitlines() if not line.startswith("#"))
    return [row[2] for row in rows if len(row) >= 3 and row[0] == region]
