"""How fast the dialer dials, and whether it keeps to the cap: issue 3's acceptance figures.

For each database (SQLite, PostgreSQL) and each cap (50, 500 calls/s, uncapped) it:

  - creates a fresh database with one campaign of --contacts contacts (all due, the window open);
  - runs `campaigner simulate` in a process of its own, answering every dial request after
    200 ms (real APIs take 100-500 ms) with calls that end at once, every one delivered;
  - runs the dialer in a child process (one worker, its webhook receiver in a process of its
    own as `campaigner run` does, with --receiver here in the dialer's process, or with
    --receiver separate a `campaigner serve` beside it), so that its peak memory is its own;
  - prints: calls per second achieved (the calls dialled over the time from the first request
    sent to the last) against the cap; the most calls in any one-second window, as the simulator
    received them and as the dialer sent them (instrumented); the time to finish (or the calls
    made in --max-duration when finishing would take longer); the dialer's peak RSS; the webhook
    events stored per second; and the CPU time each process spent per 1,000 calls.

A run at 50 calls/s of 100,000 contacts would take 33 minutes, so a run whose list would take
longer than --finish-within at its cap stops after --max-duration and counts what it did. Give
--contacts 10000 and 100000 to see memory stay flat as the list grows. The numbers dialled are
made up: nothing here reaches anything but the local simulator.

    .venv/bin/python benchmarks/dial_bench.py [--contacts 100000] [--caps 50,500,0]
        [--backend sqlite|postgresql|both] [--provider webex] [--max-duration 60]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import httpx
import psycopg
from sqlalchemy import func, insert, select
from sqlalchemy.engine import URL

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from campaigner.campaigns import CampaignSettings, Message, RetryPolicy  # noqa: E402
from campaigner.config import Settings, parse_database_url  # noqa: E402
from campaigner.db import Database, open_database, upgrade  # noqa: E402
from campaigner.db.schema import attempts, contacts, events  # noqa: E402
from campaigner.dialer import (  # noqa: E402
    ReceiverOptions,
    RunOptions,
    reporter_for,
    run_campaign,
)
from campaigner.dialer.sending import Sender  # noqa: E402
from campaigner.model import ContactState, MessageKind, Provider  # noqa: E402
from campaigner.simulator import max_in_any_second  # noqa: E402
from campaigner.simulator.config import DEMO_CALLER_IDS  # noqa: E402
from campaigner.store.campaigns import create_campaign  # noqa: E402
from campaigner.store.queue import DueContact  # noqa: E402
from campaigner.windows import CallingWindow  # noqa: E402

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
CAMPAIGNER = [sys.executable, "-c", "from campaigner.cli import main; main()"]
AREA_CODES = (  # noqa: SIM905 (a table, easier to read as text)
    "201 202 203 205 206 207 208 212 213 214 215 216 217 219 224 225 228 229 231 234 239 240 248 "
    "251 252 253 254 256 260 262 267 269 270 276 281 301 302 303 304 305 307 308 309 310 312 313"
).split()
# Calls in flight allowed: enough that the cap, not the channels, limits the rate (a call is in
# flight for the 200 ms answer, then until its last webhook is stored).
IN_FLIGHT = 2_000
TOKEN = "benchmark-webhook-token-0123456789"


def free_port() -> int:
    """A port free on 127.0.0.1 now: two benchmarks on fixed ports would share one simulator
    (the second one's fails to bind, and its health check reaches the first's), mixing their
    ledgers and CPU figures."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def numbers(count: int) -> list[str]:
    """`count` distinct, valid-looking US numbers (area code, exchange 200-999, line)."""
    made: list[str] = []
    for area in AREA_CODES:
        for exchange in range(200, 1000):
            for line in range(0, 10_000, 97):
                made.append(f"+1{area}{exchange}{line:04d}")
                if len(made) == count:
                    return made
    raise ValueError(f"cannot make {count} numbers")


def prepare(database: Database, count: int, cap: float | None, provider: Provider) -> str:
    """A campaign of `count` due contacts; its name."""
    name = f"bench-{uuid.uuid4().hex[:6]}"
    settings = CampaignSettings(
        name=name,
        provider=provider,
        caller_id=DEMO_CALLER_IDS[0],
        message=Message(MessageKind.TTS, "Hello {first_name}, your appointment is on Monday."),
        calls_per_second=cap or 1_000_000.0,
        max_in_flight=IN_FLIGHT,
        retry=RetryPolicy(max_attempts=1),
        window=CallingWindow.parse("00:00-24:00"),
        default_region="US",
        default_timezone="America/New_York",
    ).validate()
    now = datetime.now(UTC) - timedelta(minutes=1)
    with database.write() as connection:
        campaign = create_campaign(connection, settings)
        phones = numbers(count)
        for start in range(0, count, 10_000):
            connection.execute(
                insert(contacts),
                [
                    {
                        "campaign_id": campaign.id,
                        "phone": phone,
                        "phone_raw": phone,
                        "fields": {"first_name": "Sam"},
                        "timezone": "America/New_York",
                        "timezone_source": "number",
                        "state": ContactState.PENDING.value,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for phone in phones[start : start + 10_000]
                ],
            )
    return name


# --- The dialer, in a child process ------------------------------------------------------------


def child(
    url: str, name: str, simulator: str, receiver_url: str, max_duration: float | None
) -> None:
    """Run the dialer and print what it did as one JSON line on stdout. `receiver_url`: a
    separate `campaigner serve`, "child" to receive webhooks in a process the run starts (as
    `campaigner run` does), or "here" to receive them in this process."""
    database = open_database(parse_database_url(url))
    settings = Settings(
        {
            ("enablex", "app_id"): "sim-enablex-app",
            ("enablex", "app_key"): "sim-enablex-key",
            ("enablex", "base_url"): f"{simulator}/enablex/voice/v1",
            ("fractel", "token"): "sim-fractel-token",
            ("fractel", "base_url"): f"{simulator}/fractel/v2",
            ("webex", "service_key"): "sim-webex-key",
            ("webex", "base_url"): f"{simulator}/webex/v1",
            ("receiver", "token"): TOKEN,
        }
    )
    log = io.TextIOWrapper(os.fdopen(os.dup(2), "wb"), line_buffering=True)
    sent = _record_send_times()
    started = time.perf_counter()
    result = anyio.run(
        partial(
            run_campaign,
            database,
            name,
            settings,
            reporter=reporter_for(log, "text", interval=10.0),
            options=RunOptions(max_duration=max_duration, drain_timeout=30),
            receiver=_receiver_options(receiver_url),
        ),
        backend_options={"use_uvloop": True},
    )
    seconds = time.perf_counter() - started
    with database.read() as connection:
        made = connection.execute(select(func.count()).select_from(attempts)).scalar_one()
        stored, first_event, last_event = connection.execute(
            select(func.count(), func.min(events.c.received_at), func.max(events.c.received_at))
        ).one()
    database.dispose()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    receiver = resource.getrusage(resource.RUSAGE_CHILDREN)  # the run's receiver process, if any
    event_span = (last_event - first_event).total_seconds() if stored > 1 else 0.0
    print(
        json.dumps(
            {
                "exit_code": result.exit_code.value,
                "dialled": result.dialled,
                "attempts": made,
                "seconds": seconds,
                "events": stored,
                "events_per_second": (stored - 1) / event_span if event_span else 0.0,
                "sent_max_in_any_second": max_in_any_second(sent),
                "sent_rate": (len(sent) - 1) / (max(sent) - min(sent)) if len(sent) > 1 else 0.0,
                "peak_rss_mb": usage.ru_maxrss / 1024,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "receiver_cpu_seconds": receiver.ru_utime + receiver.ru_stime,
                "receiver_peak_rss_mb": receiver.ru_maxrss / 1024,
                "contacts": {state.value: n for state, n in result.contacts.items() if n},
            }
        )
    )


def _receiver_options(receiver_url: str) -> ReceiverOptions:
    if receiver_url == "child":
        return ReceiverOptions(process=True)
    if receiver_url == "here":
        return ReceiverOptions()
    return ReceiverOptions(enabled=False, public_url=receiver_url)


def _record_send_times() -> list[float]:
    """Instrument the dialer: the time each request is let go, just before it is written."""
    times: list[float] = []
    ready = Sender._ready

    async def timed(self: Sender, attempt_id: int, contact: DueContact) -> None:
        await ready(self, attempt_id, contact)
        times.append(time.monotonic())

    Sender._ready = timed  # type: ignore[method-assign]
    return times


# --- The parent: databases, the simulator, the runs ---------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Simulator:
    """`campaigner simulate` in a process of its own."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [
                *CAMPAIGNER,
                "simulate",
                "--port",
                str(port),
                "--answer-latency",
                "0.2",
                "--ring-delay",
                "0",
                "--play-duration",
                "0",
                "--mix",
                "delivered=1",
                "--plain",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/_sim/stats", timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("the simulator did not start")

    def stats(self) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/_sim/stats", timeout=300)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def reset(self) -> None:
        httpx.post(f"{self.url}/_sim/reset", timeout=60).raise_for_status()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


class Receiver:
    """`campaigner serve` in a process of its own, on the benchmark's database."""

    def __init__(self, url: URL, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [*CAMPAIGNER, "serve", "--port", str(port), "--db", url.render_as_string(False)],
            env={**os.environ, "CAMPAIGNER_WEBHOOK_TOKEN": TOKEN},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/healthz", timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("the receiver did not start")

    def stop(self) -> float:
        """Stop it; the CPU seconds it used."""
        used = cpu_seconds(self.process.pid)
        self.process.terminate()
        self.process.wait(timeout=60)
        return used


def fresh_database(backend: str, workdir: Path) -> tuple[URL, str | None]:
    """A new, migrated database; (its URL, the PostgreSQL database's name to drop)."""
    if backend == "sqlite":
        path = workdir / f"dial-{uuid.uuid4().hex[:6]}.db"
        return parse_database_url(str(path)), None
    name = f"campaigner_dial_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = parse_database_url(ADMIN_URL).set(database=name)
    database = open_database(url, check=False)
    upgrade(database)
    database.dispose()
    return url, name


def drop(name: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_one(
    backend: str,
    cap: float | None,
    args: argparse.Namespace,
    simulator: Simulator,
    workdir: Path,
) -> dict[str, Any]:
    url, pg_name = fresh_database(backend, workdir)
    try:
        database = open_database(url)
        name = prepare(database, args.contacts, cap, Provider(args.provider))
        database.dispose()
        simulator.reset()
        finish_in = args.contacts / cap if cap else 0.0
        limit = args.max_duration if finish_in > args.finish_within else None
        receiver = Receiver(url, free_port()) if args.receiver == "separate" else None
        command = [
            sys.executable,
            __file__,
            "child",
            url.render_as_string(hide_password=False),
            name,
            simulator.url,
            receiver.url if receiver else args.receiver,
        ]
        if limit:
            command.append(str(limit))
        simulator_cpu = cpu_seconds(simulator.process.pid)
        receiver_cpu = 0.0
        try:
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"the dialer failed:\n{done.stderr[-3000:]}")
        finally:
            if receiver:
                receiver_cpu = receiver.stop()
        outcome: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        stats = simulator.stats()
        outcome["max_in_any_second"] = stats["max_calls_in_any_second"]
        outcome["placed"] = stats["calls_placed"]
        outcome["numbers_called_twice"] = stats["numbers_called_more_than_once"]
        outcome["limited"] = limit
        outcome["simulator_cpu"] = cpu_seconds(simulator.process.pid) - simulator_cpu
        outcome["receiver_cpu"] = receiver_cpu or outcome.get("receiver_cpu_seconds", 0.0)
        return outcome
    finally:
        if pg_name:
            drop(pg_name)


def report(backend: str, cap: float | None, outcome: dict[str, Any]) -> None:
    cap_text = f"{cap:g}/s" if cap else "uncapped"
    share = f" ({outcome['sent_rate'] / cap:.1%} of the cap)" if cap else ""
    finished = (
        f"{outcome['attempts']:,} calls in {outcome['limited']:g}s (stopped by --max-duration)"
        if outcome["limited"]
        else f"all {outcome['attempts']:,} in {outcome['seconds']:.0f}s"
    )
    receiver_rss = (
        f" (receiver {outcome['receiver_peak_rss_mb']:.0f} MB)"
        if outcome.get("receiver_peak_rss_mb")
        else ""
    )
    print(
        f"{backend:<10} {cap_text:<9} {outcome['sent_rate']:8.1f} calls/s{share}; "
        "most in any second: "
        f"{outcome['max_in_any_second']} received, {outcome['sent_max_in_any_second']} sent; "
        f"{finished}; "
        f"peak RSS {outcome['peak_rss_mb']:.0f} MB{receiver_rss}; "
        f"receiver {outcome['events']:,} events, "
        f"{outcome['events_per_second']:.0f}/s; numbers called twice "
        f"{outcome['numbers_called_twice']}; exit {outcome['exit_code']}",
        flush=True,
    )
    per = 1000 / max(1, outcome["attempts"])
    separate = f", receiver {outcome['receiver_cpu'] * per:.2f}" if outcome["receiver_cpu"] else ""
    print(
        f"{'':<10} CPU seconds per 1,000 calls: dialer {outcome['cpu_seconds'] * per:.2f}"
        f"{separate}, simulator {outcome['simulator_cpu'] * per:.2f}",
        flush=True,
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        _, _, url, name, simulator, receiver, *limit = sys.argv
        child(url, name, simulator, receiver, float(limit[0]) if limit else None)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--caps", default="50,500,0", help="calls/s caps; 0 = uncapped")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--provider", choices=[p.value for p in Provider], default="webex")
    parser.add_argument("--max-duration", type=float, default=60.0)
    parser.add_argument(
        "--receiver",
        choices=["child", "here", "separate"],
        default="child",
        help="webhooks received by a process the run starts (as `campaigner run` does), in the "
        "dialer's own process, or by a separate `campaigner serve`",
    )
    parser.add_argument(
        "--finish-within",
        type=float,
        default=300.0,
        help="runs that would take longer than this many seconds stop after --max-duration",
    )
    args = parser.parse_args()
    caps = [float(cap) or None for cap in args.caps.split(",")]
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    simulator = Simulator(free_port())
    try:
        with tempfile.TemporaryDirectory(prefix="dial-bench-") as workdir:
            print(
                f"{args.contacts:,} contacts, {args.provider}, simulator answering after 200 ms",
                flush=True,
            )
            for backend in backends:
                for cap in caps:
                    report(backend, cap, run_one(backend, cap, args, simulator, Path(workdir)))
    finally:
        simulator.stop()


if __name__ == "__main__":
    main()
