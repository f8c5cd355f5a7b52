"""The receiver in a process of its own, started and stopped by `campaigner run`.

In the dialer's process the receiver and the dialing loop take turns on one interpreter lock, so
that process, at about a millisecond of CPU a call (four webhooks and a dial), was bound by one
core; on the dial benchmark (uncapped, SQLite, 30,000 contacts, at the same load) the dialer and
a receiver of its own used 0.34 + 0.44 CPU-ms a call against 0.92 in one process. So:

- the parent binds the listening socket (the port, and an error binding it, are known at once, as
  before) and hands it to the child, which serves on it;
- the child reads what it needs from its standard input, as one JSON line (the database URL, the
  settings, the webhook credentials: no secret on its command line), and writes `ready` on its
  standard output once it serves;
- after each committed batch that ended calls or opted numbers out, it writes one JSON line on its
  standard output, and the parent passes it on (`on_applied`): the dialer frees those call slots
  and blocks those numbers at once, as with the receiver in its own process;
- its log lines go to the parent's standard error; follow-up requests (EnableX's hang-up) are
  sent from the child, which stores the events that need them;
- it stops when its standard input closes: when the parent is done with it (after the run's last
  calls have ended), or when the parent dies, however it dies. It runs in a session of its own, so
  that a Ctrl-C at the terminal stops the dialer, whose drain still needs the receiver;
- if it exits on its own, the parent is told (`on_lost`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress

from sqlalchemy import make_url

from ..config import Settings
from ..db import Database, open_database
from ..errors import CampaignerError
from ..model import Outcome
from ..store.attempts import Applied, AttemptFinished
from ._app import create_app
from ._auth import WebhookAuth
from ._log import describe_error, log
from ._server import GRACEFUL_SHUTDOWN_SECONDS, bind, start_receiver_on

# Seconds the child may take to start serving (importing campaigner on a busy machine, opening
# the database).
START_SECONDS = 60.0
_READY = b"ready\n"
# Bytes of one report line the parent reads: a batch of 1,000 webhooks can end 1,000 calls, about
# 40 bytes each.
_LINE_LIMIT = 1 << 22
_CHILD = "from campaigner.receiver._child import main; main()"


class ReceiverFailed(CampaignerError):
    """The webhook receiver's process could not start."""


@asynccontextmanager
async def serving_in_child(
    database: Database,
    settings: Settings,
    auth: WebhookAuth,
    host: str,
    port: int,
    *,
    on_applied: Callable[[Applied], None],
    on_lost: Callable[[str], None],
) -> AsyncIterator[str]:
    """Serve the receiver from a child process for the length of a block; yields its URL."""
    sock = bind(host, port)
    bound_port = sock.getsockname()[1]
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _CHILD,
            str(sock.fileno()),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            pass_fds=(sock.fileno(),),
            start_new_session=True,
            limit=_LINE_LIMIT,
        )
    finally:
        sock.close()  # the child holds it now
    assert process.stdin is not None
    assert process.stdout is not None
    stopping = False
    try:
        try:
            process.stdin.write(_configuration(database, settings, auth))
            await process.stdin.drain()
            first = await asyncio.wait_for(process.stdout.readline(), START_SECONDS)
        except (OSError, TimeoutError):  # it died at once, or hangs
            first = b""
        if first != _READY:
            raise ReceiverFailed(_not_started(first))

        async def read_reports(stdout: asyncio.StreamReader) -> None:
            while line := await stdout.readline():
                try:
                    on_applied(_applied(line))
                except Exception as exc:  # as the in-process writer does: the next one may pass
                    log(logging.ERROR, "webhooks.on_applied_failed", error=describe_error(exc))
            if not stopping:
                status = await process.wait()
                on_lost(f"the webhook receiver's process exited (status {status})")

        reading = asyncio.create_task(read_reports(process.stdout))
        shown = f"[{host}]" if ":" in host else host
        try:
            yield f"http://{shown}:{bound_port}"
        finally:
            stopping = True
            process.stdin.close()  # the child stops: answers what is under way, stores the rest
            with suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(reading), GRACEFUL_SHUTDOWN_SECONDS + 30)
            reading.cancel()
    finally:
        stopping = True
        if process.returncode is None:
            process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), GRACEFUL_SHUTDOWN_SECONDS + 30)
            except TimeoutError:
                process.kill()
                await process.wait()


def _configuration(database: Database, settings: Settings, auth: WebhookAuth) -> bytes:
    document = {
        "database": database.url.render_as_string(hide_password=False),
        "settings": [[section, key, value] for (section, key), value in settings.values.items()],
        "auth": [auth.token, auth.user, auth.password],
    }
    return json.dumps(document).encode() + b"\n"


def _not_started(first: bytes) -> str:
    try:
        said = json.loads(first).get("error") if first else None
    except (ValueError, AttributeError):
        said = None
    return f"the webhook receiver did not start: {said or 'its process said nothing (see above)'}"


def _applied(line: bytes) -> Applied:
    report = json.loads(line)
    finished = [
        AttemptFinished(attempt_id, contact_id, campaign_id, Outcome(outcome))
        for attempt_id, contact_id, campaign_id, outcome in report["finished"]
    ]
    return Applied(finished, [], report["opted_out"])


# --- The child ----------------------------------------------------------------------------------


def main() -> None:
    """The child's entry point: argv[1] is the listening socket's file descriptor."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    sock = socket.socket(fileno=int(sys.argv[1]))
    document = json.loads(sys.stdin.buffer.readline())
    out = sys.stdout.buffer
    try:
        database = open_database(make_url(document["database"]))
    except CampaignerError as exc:
        out.write(json.dumps({"error": str(exc)}).encode() + b"\n")
        out.flush()
        sys.exit(1)
    settings = Settings({(section, key): value for section, key, value in document["settings"]})
    token, user, password = document["auth"]
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        runner = asyncio.Runner()
    with runner:
        runner.run(_serve(database, settings, WebhookAuth(token, user, password), sock))
    database.dispose()


async def _serve(
    database: Database, settings: Settings, auth: WebhookAuth, sock: socket.socket
) -> None:
    out = sys.stdout.buffer

    def report(applied: Applied) -> None:
        if not applied.finished and not applied.opted_out:
            return
        finished = [
            [item.attempt_id, item.contact_id, item.campaign_id, item.outcome.value]
            for item in applied.finished
        ]
        line = json.dumps({"finished": finished, "opted_out": applied.opted_out})
        try:
            out.write(line.encode() + b"\n")
            out.flush()
        except OSError as exc:  # the parent is gone: stdin's end stops this process
            log(logging.WARNING, "receiver.report_failed", error=describe_error(exc))

    app = create_app(database, settings, auth=auth, on_applied=report)
    running = await start_receiver_on(app, sock)
    out.write(_READY)
    out.flush()
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.buffer.read)
    await running.stop()
