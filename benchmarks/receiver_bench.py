"""How many webhook events a second the receiver stores, on SQLite and on PostgreSQL.

Issue 3 asks for at least 5,000 events/s on SQLite and 3,000 on PostgreSQL. This runs:

  - the receiver as an operator would, `campaigner serve` in a process of its own, on 127.0.0.1,
    with a fresh database holding --events / 4 live Webex Connect attempts (their dial answers
    recorded), so that every event is matched and applied, not just stored;
  - --clients load-generating processes, each an httpx.AsyncClient keeping --concurrency
    requests in flight, posting each call's four status receipts (OFFERED, ACCEPTED, ANSWERED,
    RELEASED: every call ends delivered) in a shuffled order, as providers do.

It prints the events stored per second (from the first request sent to the last answer received;
a 200 means committed), the same measured by the receiver's own clock (the spread of
`received_at`), the receiver process's CPU time per event (what it could do with a core of its
own: the load generators share the machine with it), and checks that every event is in the
database and every call delivered.

    .venv/bin/python benchmarks/receiver_bench.py [--events 40000] [--clients 3]
                                    [--concurrency 64] [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import func, insert, select
from sqlalchemy.engine import URL

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from campaigner.campaigns import CampaignSettings, Message  # noqa: E402
from campaigner.config import parse_database_url  # noqa: E402
from campaigner.db import Database, open_database, upgrade  # noqa: E402
from campaigner.db.schema import attempts, contacts, events  # noqa: E402
from campaigner.model import ContactState, MessageKind, Provider  # noqa: E402
from campaigner.simulator.sender import WebhookSender  # noqa: E402
from campaigner.store.campaigns import create_campaign  # noqa: E402

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TOKEN = "benchmark-webhook-token-0123456789"
CAMPAIGNER = [sys.executable, "-c", "from campaigner.cli import main; main()"]
STATUSES = ("OFFERED", "ACCEPTED", "ANSWERED", "RELEASED")


def prepare(database: Database, calls: int) -> list[tuple[str, str]]:
    """A campaign with `calls` live, accepted attempts: their (correlation key, message id)."""
    now = datetime.now(UTC)
    settings = CampaignSettings(
        name="bench",
        provider=Provider.WEBEX,
        caller_id="+13215550100",
        message=Message(MessageKind.TTS, "Hello."),
    ).validate()
    with database.write() as connection:
        campaign_id = create_campaign(connection, settings).id
        connection.execute(
            insert(contacts),
            [
                {
                    "campaign_id": campaign_id,
                    "phone": f"+1202{n:07d}",
                    "phone_raw": f"+1202{n:07d}",
                    "fields": {},
                    "timezone": "America/New_York",
                    "timezone_source": "number",
                    "state": ContactState.IN_PROGRESS.value,
                    "attempts": 1,
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(calls)
            ],
        )
        ids = connection.execute(select(contacts.c.id).order_by(contacts.c.id)).scalars().all()
        calls_made = [(uuid.uuid4().hex, f"msg-{n}") for n in range(calls)]
        connection.execute(
            insert(attempts),
            [
                {
                    "contact_id": contact_id,
                    "campaign_id": campaign_id,
                    "attempt_number": 1,
                    "provider": Provider.WEBEX.value,
                    "correlation_key": key,
                    "provider_call_id": message_id,
                    "progress": "accepted",
                    "requested_at": now,
                }
                for contact_id, (key, message_id) in zip(ids, calls_made, strict=True)
            ],
        )
    return calls_made


def receipt(message_id: str, key: str, status: str) -> bytes:
    return json.dumps(
        {
            "deliveryInfoNotification": {
                "deliveryInfo": {
                    "timeStamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "Description": status.title(),
                    "deliveryChannel": "voice",
                    "destination": "+12025550123",
                    "deliveryStatus": status,
                    "code": "7519",
                },
                "transid": message_id,
                "correlationid": key,
                "callbackData": "",
            }
        }
    ).encode()


def client(
    kind: str, url: str, bodies: list[bytes], concurrency: int, start_at: float
) -> tuple[int, int]:
    """One load-generating process: (answers 200, other answers)."""
    hook = f"{url}/hooks/webex/{TOKEN}"

    async def run() -> tuple[int, int]:
        queue = iter(bodies)
        statuses: list[int] = []
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        sender = WebhookSender(connections_per_host=concurrency, timeout=30)
        async with httpx.AsyncClient(limits=limits, timeout=30) as http:

            async def post(body: bytes) -> int:
                if kind == "lean":
                    return await sender.send("POST", hook, body)
                response = await http.post(
                    hook, content=body, headers={"content-type": "application/json"}
                )
                return response.status_code

            async def worker() -> None:
                for body in queue:
                    statuses.append(await post(body))

            await asyncio.sleep(max(0.0, start_at - time.time()))
            await asyncio.gather(*(worker() for _ in range(concurrency)))
        sender.close()
        ok = statuses.count(200)
        return ok, len(statuses) - ok

    return asyncio.run(run())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_backend(
    backend: str, events_wanted: int, clients: int, concurrency: int, kind: str
) -> None:
    calls = events_wanted // len(STATUSES)
    workdir = Path(tempfile.mkdtemp(prefix="receiver-bench-"))
    pg_name = f"receiver_bench_{uuid.uuid4().hex[:8]}"
    url: URL
    if backend == "sqlite":
        url = parse_database_url(str(workdir / "bench.db"))
    else:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{pg_name}"')
        url = parse_database_url(ADMIN_URL.rsplit("/", 1)[0] + "/" + pg_name)
    database = open_database(url, check=False)
    server: subprocess.Popen[str] | None = None
    try:
        upgrade(database)
        made = prepare(database, calls)
        bodies = [receipt(message_id, key, s) for key, message_id in made for s in STATUSES]
        random.Random(3).shuffle(bodies)
        server = subprocess.Popen(
            [*CAMPAIGNER, "serve", "--port", "0", "--db", url.render_as_string(False)],
            stdout=subprocess.PIPE,
            stderr=open(workdir / "serve.log", "w"),  # noqa: SIM115
            text=True,
            env=os.environ | {"CAMPAIGNER_WEBHOOK_TOKEN": TOKEN},
        )
        assert server.stdout is not None
        receiver_url = server.stdout.readline().split()[2]
        cpu_before = cpu_seconds(server.pid)
        start_at = time.time() + 1.0  # every client process ready before the first request
        shares = [bodies[i::clients] for i in range(clients)]
        with multiprocessing.get_context("spawn").Pool(clients) as pool:
            results = pool.starmap(
                client, [(kind, receiver_url, share, concurrency, start_at) for share in shares]
            )
        elapsed = time.time() - start_at
        receiver_cpu = cpu_seconds(server.pid) - cpu_before
        ok = sum(answered for answered, _ in results)
        failed = sum(refused for _, refused in results)
        with database.read() as connection:
            stored = connection.execute(select(func.count()).select_from(events)).scalar_one()
            first, last = connection.execute(
                select(func.min(events.c.received_at), func.max(events.c.received_at))
            ).one()
            by_status = select(events.c.status, func.count()).group_by(events.c.status)
            statuses = {str(status): int(count) for status, count in connection.execute(by_status)}
            delivered = connection.execute(
                select(func.count()).where(contacts.c.state == ContactState.DELIVERED.value)
            ).scalar_one()
        spread = (last - first).total_seconds() if stored > 1 else 0.0
        print(
            f"{backend:<10} {stored:>7} events stored in {elapsed:6.2f} s: "
            f"{stored / elapsed:8.0f} events/s end to end, "
            f"{stored / spread if spread else float('nan'):8.0f}/s by the receiver's clock; "
            f"answers 200: {ok}, other: {failed}; statuses {statuses}; "
            f"calls delivered {delivered}/{calls}"
        )
        print(
            f"{'':<10} receiver CPU {receiver_cpu / stored * 1e6:.0f} us per event "
            f"({stored / receiver_cpu:.0f} events per CPU-second of the receiver process)"
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=60)
        database.dispose()
        shutil.rmtree(workdir, ignore_errors=True)
        if backend == "postgresql":
            with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--clients", type=int, default=3, help="load-generating processes")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight each")
    parser.add_argument(
        "--client",
        choices=["lean", "httpx"],
        default="lean",
        help="lean: the simulator's webhook sender (httptools); httpx: httpx.AsyncClient, which "
        "spends more CPU per request than the receiver does",
    )
    args = parser.parse_args()
    print(
        f"{os.cpu_count()} CPUs; {args.clients} {args.client} clients x {args.concurrency} "
        "in flight"
    )
    for backend in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
        run_backend(backend, args.events, args.clients, args.concurrency, args.client)


if __name__ == "__main__":
    main()
