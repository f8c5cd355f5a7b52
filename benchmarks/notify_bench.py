"""Benchmark: write outcome notifications into the outbox and deliver them to a local target, on
SQLite and PostgreSQL.

    .venv/bin/python benchmarks/notify_bench.py [--contacts N] [--backend sqlite|postgresql|both]

A campaign with a notify URL gets N final contacts; `notify_contacts` writes their notifications
in batches of 500 (as the receiver does, one batch per transaction), then one NotificationSender
drains the outbox to a target on 127.0.0.1 that answers 204 (an asyncio server in this process).
Printed: rows written per second, rows delivered per second, and the machine's load average
before the run (the machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

import psycopg  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from campaigner.campaigns import CampaignSettings, Message  # noqa: E402
from campaigner.config import parse_database_url  # noqa: E402
from campaigner.db import Database, open_database, upgrade  # noqa: E402
from campaigner.db.schema import contacts  # noqa: E402
from campaigner.model import MessageKind, Provider  # noqa: E402
from campaigner.notifications import NotificationSender, notify_contacts  # noqa: E402
from campaigner.store.campaigns import create_campaign  # noqa: E402

PG_ADMIN = os.environ.get("CAMPAIGNER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BATCH = 500


async def _target(port_ready: asyncio.Future[int]) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port_ready.set_result(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


def _fill(database: Database, url: str, count: int) -> list[int]:
    settings = CampaignSettings(
        "bench", Provider.ENABLEX, "+13215550100", Message(MessageKind.TTS, "Hi"), notify_url=url
    ).validate()
    now = datetime.now(UTC)
    with database.write() as connection:
        campaign = create_campaign(connection, settings)
        connection.execute(
            insert(contacts),
            [
                {
                    "campaign_id": campaign.id,
                    "phone": f"+1212{index:07d}",
                    "phone_raw": f"+1212{index:07d}",
                    "fields": {"customer": f"C-{index}"},
                    "timezone": "America/New_York",
                    "timezone_source": "number",
                    "state": "delivered",
                    "attempts": 1,
                    "last_outcome": "delivered",
                    "created_at": now,
                    "updated_at": now,
                }
                for index in range(count)
            ],
        )
        return list(connection.execute(select(contacts.c.id)).scalars())


async def _measure(database: Database, count: int) -> tuple[float, float]:
    ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(_target(ready))
    port = await ready
    ids = _fill(database, f"http://127.0.0.1:{port}/hook", count)
    started = time.perf_counter()
    for start in range(0, len(ids), BATCH):
        with database.write() as connection:
            notify_contacts(connection, ids[start : start + BATCH], datetime.now(UTC))
    written = time.perf_counter() - started
    sender = NotificationSender(database, "bench-secret", batch=200, concurrency=32)
    started = time.perf_counter()
    left = await sender.drain(timeout=600)
    sent = time.perf_counter() - started
    await sender.close()
    server.cancel()
    await asyncio.gather(server, return_exceptions=True)
    if left or sender.delivered != count:
        raise SystemExit(f"not all delivered: {left} left, {sender.delivered} of {count}")
    return count / written, count / sent


def _run(backend: str, count: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        if backend == "sqlite":
            url = parse_database_url(str(Path(directory) / "bench.db"))
            name = None
        else:
            name = f"campaigner_notify_bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            url = parse_database_url(PG_ADMIN).set(database=name)
        database = open_database(url, check=False)
        try:
            upgrade(database)
            load = os.getloadavg()[0]
            written, sent = asyncio.run(_measure(database, count))
        finally:
            database.dispose()
            if name is not None:
                with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(
        f"{backend:<10} {count:,} notifications: written {written:,.0f}/s, "
        f"delivered {sent:,.0f}/s (load average before: {load:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    options = parser.parse_args()
    backends = ["sqlite", "postgresql"] if options.backend == "both" else [options.backend]
    for backend in backends:
        _run(backend, options.contacts)


if __name__ == "__main__":
    main()
