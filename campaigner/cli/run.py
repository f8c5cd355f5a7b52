"""`campaigner run`: dial a campaign's due contacts until it is done or must wait."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from functools import partial

import anyio
import click

from ..config import load_settings
from ..dialer import ReceiverOptions, RunOptions, Timeouts, reporter_for, run_campaign
from ..dialer.sqlite_lock import sole_dialer
from ..durations import parse_duration
from ..errors import ValidationError
from .app import check_public_url, config_option, database_option, main, opened_database


class _Duration(click.ParamType[int, object]):
    name = "DURATION"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_duration(str(value))
        except ValidationError as exc:
            self.fail(str(exc), param, ctx)


DURATION = _Duration()


@main.command("run")
@click.argument("campaign")
@click.option(
    "--max-duration",
    type=DURATION,
    help="Stop dialing after this long (90s, 10m, 1h30m) and exit 75 if work is left.",
)
@click.option(
    "--until",
    metavar="TIME",
    help="Stop dialing at this time (ISO 8601, e.g. 2026-11-23T18:00-05:00; UTC if no offset) "
    "and exit 75 if work is left.",
)
@click.option(
    "--max-wait",
    type=DURATION,
    default="5m",
    show_default=True,
    help="When nothing is due, wait this long for the next contact (a retry, a window opening) "
    "rather than exit 75.",
)
@click.option(
    "--call-timeout",
    type=DURATION,
    default="5m",
    show_default=True,
    help="A call with no final event after this long is looked up where the provider allows it, "
    "else marked failed and retried as the campaign's retry policy says.",
)
@click.option(
    "--drain-timeout",
    type=DURATION,
    default="1m",
    show_default=True,
    help="Once stopping, wait this long for calls under way to end before exiting.",
)
@click.option(
    "--connect-timeout",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="Seconds to connect to the provider (nothing sent yet: retried).",
)
@click.option(
    "--read-timeout",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Seconds to wait for the provider's answer to a dial. After that the call may or may "
    "not exist: it is never redialled blind (see the README).",
)
@click.option(
    "--breaker",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Provider failures in a row (5xx, unreachable, no answer) that pause the campaign.",
)
@click.option(
    "--listen",
    metavar="HOST:PORT",
    default="127.0.0.1:0",
    show_default=True,
    help="Where this run receives webhooks; port 0 takes a free one.",
)
@click.option(
    "--public-url",
    metavar="URL",
    help="The address providers reach the receiver at (e.g. https://hooks.example.com), used "
    "in the callback URL sent with each call. [default: http://HOST:PORT of --listen]",
)
@click.option(
    "--no-receiver",
    is_flag=True,
    help="Receive no webhooks here: a separate `campaigner serve` takes them, at --public-url.",
)
@click.option(
    "--lease",
    type=DURATION,
    default="30s",
    show_default=True,
    help="PostgreSQL, several workers: how long this worker's claims outlive its last heartbeat. "
    "A worker on another machine that dies is noticed this long after it stopped; one on the "
    "same machine at once.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Resume the campaign if it is paused. Without it a paused campaign is left paused and "
    "the run exits 3, so that a cron job never undoes an operator's (or the circuit breaker's) "
    "pause.",
)
@click.option(
    "--wait",
    is_flag=True,
    help="SQLite: if another `campaigner run` is dialing from the database, wait for it to end "
    "instead of exiting 75.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: a live display on a terminal, else a line a minute; json: JSON lines.",
)
@config_option("the provider keys and webhook credentials")
@database_option
def run_command(
    campaign: str,
    max_duration: int | None,
    until: str | None,
    max_wait: int,
    call_timeout: int,
    drain_timeout: int,
    connect_timeout: float,
    read_timeout: float,
    breaker: int,
    listen: str,
    public_url: str | None,
    no_receiver: bool,
    lease: int,
    resume: bool,
    wait: bool,
    log_format: str,
    config_file: str | None,
    db: str | None,
) -> None:
    """Dial CAMPAIGN's due contacts through its provider.

    Each contact is called only inside the campaign's calling window in its own time zone, never
    if its number is on the do-not-call list (checked as it is dialled), at most at the
    campaign's calls per second and calls in flight. Busy, unanswered and failed calls are retried
    as the campaign's retry policy says. A draft campaign is set running. A paused one is
    resumed only with --resume (or `campaigner campaign resume`): otherwise the run dials nothing
    and exits 3, so a cron job cannot undo a pause.

    Webhooks are received while it runs, by a process it starts and stops (see --listen,
    --public-url, --no-receiver). `campaigner campaign pause` or `cancel` from another terminal
    stops it within two seconds. Ctrl-C stops dialing and waits for calls under way; a second
    Ctrl-C stops at once.

    Exit status: 0 every contact is final; 3 paused or cancelled by an operator, or found paused;
    69 paused because the provider refused a call or failed too often in a row (fix, then run
    again with --resume);
    75 work left for later (calling windows closed, retries not yet due, --max-duration or
    --until): the last line says when, so cron can simply run it again; also when the webhook
    receiver's process died; 130 interrupted.

    On PostgreSQL, several `campaigner run` of one campaign (on one machine or many) share it:
    the calls per second and calls in flight hold for them all, and the work of one that dies is
    taken over by the others (see `campaigner workers`). A SQLite database has one dialer: a
    second run exits 75 at once, or waits with --wait.
    """
    host, port = _listen_address(listen)
    if public_url is not None:
        check_public_url(public_url)
    options = RunOptions(
        max_duration=max_duration,
        until=_instant(until) if until else None,
        max_wait=max_wait,
        call_timeout=call_timeout,
        drain_timeout=drain_timeout,
        timeouts=Timeouts(connect=connect_timeout, read=read_timeout),
        breaker_threshold=breaker,
        lease=lease,
    )
    receiver = ReceiverOptions(not no_receiver, host, port, public_url, process=True)
    settings = load_settings(config_file)
    reporter = reporter_for(sys.stdout, log_format)
    with (
        opened_database(db) as database,
        sole_dialer(database, wait=wait, on_wait=partial(reporter.note, "run.waiting")),
    ):
        result = anyio.run(
            partial(
                run_campaign,
                database,
                campaign,
                settings,
                reporter=reporter,
                options=options,
                receiver=receiver,
                resume=resume,
                handle_signals=True,
            ),
            backend_options={"use_uvloop": True},
        )
    sys.exit(result.exit_code.value)


def _listen_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValidationError(f"--listen {text!r} must look like 127.0.0.1:8080 (port 0: free)")
    return host.strip("[]"), int(port)


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"--until {text!r} is not a time like 2026-11-23T18:00-05:00 (ISO 8601)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
