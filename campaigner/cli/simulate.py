"""`campaigner simulate`: serve the fake providers for a demo, a manual test or a benchmark."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..errors import ValidationError
from ..simulator import (
    DEFAULT_PORT,
    Behaviour,
    Credentials,
    FaultPlan,
    Simulator,
    SimulatorConfig,
    Span,
    Timing,
    WebhookPolicy,
    digit_mix,
    outcome_mix,
    parse_key,
    parse_script,
    serve_forever,
)
from ..simulator.config import (
    DEMO_CALLER_IDS,
    DEMO_ENABLEX_APP_ID,
    DEMO_ENABLEX_APP_KEY,
    DEMO_FRACTEL_TOKEN,
    DEMO_WEBEX_SERVICE_KEY,
)
from .app import main

T = TypeVar("T")


def _converted(convert: Callable[[str], T]) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback turning the option's text (or texts) with `convert`."""

    def callback(_: click.Context, parameter: click.Parameter, value: Any) -> Any:
        try:
            if isinstance(value, tuple):
                return tuple(convert(item) for item in value)
            return None if value is None else convert(value)
        except ValidationError as exc:
            raise click.BadParameter(str(exc), param=parameter) from None

    return callback


_span = _converted(Span.parse)
_RATE = click.FloatRange(0.0, 1.0)


@main.command("simulate")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Port on 127.0.0.1 to serve on; 0 takes a free port.",
)
@click.option(
    "--seed",
    type=int,
    default=1,
    show_default=True,
    help="Seed of every random choice: the same seed, the same outcomes per number.",
)
@click.option(
    "--mix",
    "mix",
    default="delivered=60,busy=10,no_answer=15,failed=10,invalid=5",
    show_default=True,
    callback=_converted(outcome_mix),
    help="Share of each call outcome, as name=weight pairs.",
)
@click.option(
    "--script",
    "scripts",
    multiple=True,
    metavar="NUMBER=OUTCOME[,OUTCOME...]",
    callback=_converted(parse_script),
    help="Fixed outcomes for one number, attempt by attempt (the last repeats), e.g. "
    "+13215550123=busy,delivered. Repeatable.",
)
@click.option(
    "--plain",
    is_flag=True,
    help="Plainest vendor event sequences and strict timestamps, instead of the "
    "vendors' variants and quirks (an EnableX callee hanging up mid-message, "
    "Fractel REJECTED for busy, minute-only EnableX timestamps...).",
)
@click.option(
    "--digits",
    "digits",
    default="1=80,2=10,none=10",
    show_default=True,
    callback=_converted(digit_mix),
    help="Keys pressed when an EnableX play asks for one (dtmf: true); none: no key.",
)
@click.option(
    "--press",
    "keys",
    multiple=True,
    metavar="NUMBER=KEY",
    callback=_converted(parse_key),
    help="The key one number presses on every EnableX call that asks for one, e.g. "
    "+13215550123=9 (none: no key). Repeatable.",
)
@click.option(
    "--ring-delay",
    default="2-8",
    show_default=True,
    callback=_span,
    help="Seconds from the answer to the callee answering (or the call ending), "
    "fixed or a range like 2-8.",
)
@click.option(
    "--play-duration",
    default="5-15",
    show_default=True,
    callback=_span,
    help="Seconds the message plays.",
)
@click.option(
    "--answer-latency",
    default="0.2",
    show_default=True,
    callback=_span,
    help="Seconds before a dial request is answered (real APIs: 0.1-0.5).",
)
@click.option(
    "--hangup-timeout",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds an EnableX call stays up after its message when the client does "
    "not hang up (DELETE /call/{voice_id}).",
)
@click.option(
    "--cps-cap",
    type=click.FloatRange(min=0.0, min_open=True),
    default=None,
    help="Answer 429 with Retry-After above this many dial requests in any second.",
)
@click.option(
    "--retry-after",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Seconds in the Retry-After header of a 429.",
)
@click.option(
    "--error-rate",
    type=_RATE,
    default=0.0,
    show_default=True,
    help="Chance that a dial request starts a burst of 5xx answers.",
)
@click.option(
    "--error-burst",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Requests in a 5xx burst.",
)
@click.option(
    "--error-status",
    type=click.IntRange(500, 599),
    default=503,
    show_default=True,
    help="HTTP status of a 5xx burst.",
)
@click.option(
    "--hang-rate",
    type=_RATE,
    default=0.0,
    show_default=True,
    help="Chance that a dial request is held open until the client gives up.",
)
@click.option(
    "--hang-places-call/--hang-drops-call",
    default=True,
    show_default=True,
    help="Whether a hung request's call is placed all the same (the ambiguous case).",
)
@click.option(
    "--duplicate-rate",
    type=_RATE,
    default=0.0,
    show_default=True,
    help="Chance that a webhook is sent twice.",
)
@click.option(
    "--delay-rate",
    type=_RATE,
    default=0.0,
    show_default=True,
    help="Chance that a webhook is held back by an extra --webhook-delay.",
)
@click.option(
    "--webhook-delay",
    default="1-5",
    show_default=True,
    callback=_span,
    help="Extra seconds a delayed webhook is held back.",
)
@click.option(
    "--reorder-rate",
    type=_RATE,
    default=0.0,
    show_default=True,
    help="Chance that a call's webhooks are sent in shuffled order.",
)
@click.option(
    "--webhook-retries",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Further tries of a webhook the receiver did not accept (as Webex Connect).",
)
@click.option(
    "--webhook-retry-gap",
    type=click.FloatRange(min=0.0),
    default=60.0,
    show_default=True,
    help="Seconds between tries of a webhook.",
)
@click.option(
    "--webhook-timeout",
    type=click.FloatRange(min=0.0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds to wait for the receiver's answer to a webhook.",
)
@click.option(
    "--webhook-connections",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    help="Webhooks in flight at once to one receiver (each call's own in order, one at a time).",
)
@click.option(
    "--webhook-user",
    default=None,
    help="HTTP Basic user sent with EnableX and Webex webhooks (the receiver's "
    "CAMPAIGNER_WEBHOOK_USER); Fractel's come from send_notify.",
)
@click.option("--webhook-password", default=None, help="HTTP Basic password sent with them.")
@click.option(
    "--enablex-app-id",
    default=DEMO_ENABLEX_APP_ID,
    show_default=True,
    help="EnableX APP_ID accepted (HTTP Basic user).",
)
@click.option(
    "--enablex-app-key",
    default=DEMO_ENABLEX_APP_KEY,
    show_default=True,
    help="EnableX APP_KEY accepted (HTTP Basic password).",
)
@click.option(
    "--fractel-token",
    default=DEMO_FRACTEL_TOKEN,
    show_default=True,
    help="Fractel API token accepted in the `token` header.",
)
@click.option(
    "--webex-service-key",
    default=DEMO_WEBEX_SERVICE_KEY,
    show_default=True,
    help="Webex Connect service key accepted in the `key` header.",
)
@click.option(
    "--caller-id",
    "caller_ids",
    multiple=True,
    default=DEMO_CALLER_IDS,
    show_default=True,
    metavar="E164",
    help="A caller ID provisioned on every account (FoneNumbers: US numbers). Repeatable.",
)
def simulate_command(**options: Any) -> None:
    """Serve fake EnableX, Fractel and Webex Connect APIs on 127.0.0.1.

    Each vendor keeps its own path (EnableX /enablex/voice/v1, Fractel /fractel/v2, Webex
    /webex/v1) and its own auth, payload checks and error shapes. Each call placed plays out
    as that vendor's webhooks. GET /_sim/ledger lists every dial request, hang-up and webhook;
    GET /_sim/stats summarises them; POST /_sim/reset clears them. Runs until Ctrl-C.
    """
    simulator = Simulator(build_config(options))
    serve_forever(simulator, options["port"], _announce)


def build_config(options: dict[str, Any]) -> SimulatorConfig:
    """The simulator's configuration from the command's options."""
    plain = options["plain"]
    try:
        return SimulatorConfig(
            credentials=Credentials(
                enablex_app_id=options["enablex_app_id"],
                enablex_app_key=options["enablex_app_key"],
                fractel_token=options["fractel_token"],
                webex_service_key=options["webex_service_key"],
            ),
            caller_ids=frozenset(options["caller_ids"]),
            timing=Timing(
                answer_latency=options["answer_latency"],
                ring_delay=options["ring_delay"],
                play_duration=options["play_duration"],
                hangup_timeout=options["hangup_timeout"],
            ),
            webhooks=WebhookPolicy(
                retries=options["webhook_retries"],
                retry_gap=options["webhook_retry_gap"],
                timeout=options["webhook_timeout"],
                connections_per_host=options["webhook_connections"],
                user=options["webhook_user"],
                password=options["webhook_password"],
            ),
            behaviour=Behaviour(
                seed=options["seed"],
                mix=options["mix"],
                scripts=dict(options["scripts"]),
                digits=options["digits"],
                keys=dict(options["keys"]),
                quirky_timestamps=0.0 if plain else 0.1,
                variants=not plain,
            ),
            faults=FaultPlan(
                cps_cap=options["cps_cap"],
                retry_after=options["retry_after"],
                error_rate=options["error_rate"],
                error_burst=options["error_burst"],
                error_status=options["error_status"],
                hang_rate=options["hang_rate"],
                hang_places_call=options["hang_places_call"],
                duplicate_rate=options["duplicate_rate"],
                delay_rate=options["delay_rate"],
                delay=options["webhook_delay"],
                reorder_rate=options["reorder_rate"],
            ),
        )
    except ValidationError as exc:
        raise click.UsageError(str(exc)) from None


def _announce(simulator: Simulator) -> None:
    click.echo(f"campaigner simulator on {simulator.url} (Ctrl-C to stop)")
    for provider in ("enablex", "fractel", "webex"):
        click.echo(f"  {provider:8} {simulator.base_url(provider)}")
    click.echo(f"  ledger   {simulator.url}/_sim/ledger  (summary: /_sim/stats)")
    click.echo("To point campaigner at it:")
    for name, value in simulator.environment().items():
        click.echo(f"  export {name}={value}")
