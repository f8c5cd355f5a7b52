"""Group commit: one writer stores and applies every webhook, many at a time.

One transaction per webhook cannot keep up with a fast campaign (SQLite commits one at a time).
The HTTP server hands each body to `EventWriter.enqueue` and answers when its future is done; one
task takes everything that is queued, runs the database work in a single worker thread (so the
event loop keeps answering), stores the raw bodies, applies them in the same transaction, commits,
and only then sets the futures. While one batch is being written the next one gathers, so the
batches grow with the load.

Each event row is written once, with its final status (`store.attempts.store_events`). If applying
a batch fails (a bug, not a bad body: bad bodies are `unparseable`), its savepoint is rolled back
and the raw bodies are stored with status `received` instead, and the error is logged: a body is
never lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import anyio
import anyio.to_thread

from ..db import Database
from ..model import Provider
from ..providers import ProviderAdapter, WebhookResult
from ..store.attempts import Applied, store_events, store_raw_events
from ._log import describe_error, log

DEFAULT_MAX_BATCH = 1000
# Seconds a batch waits for more requests before it is written: each batch costs a commit and a
# few statements whatever its size, so under load a little patience buys a lot of throughput.
DEFAULT_LINGER = 0.002


class StoreFailed(Exception):
    """The webhook could not be stored (the database refused the batch)."""


@dataclass
class _Pending:
    provider: Provider
    body: bytes
    content_type: str | None
    stored: asyncio.Future[None]


class EventWriter:
    """Stores webhooks in batches; see the module docstring.

    `on_applied` is called on the event loop after each commit, with what the batch did.
    """

    def __init__(
        self,
        database: Database,
        adapters: Mapping[Provider, ProviderAdapter],
        on_applied: Callable[[Applied], None],
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        linger: float = DEFAULT_LINGER,
    ) -> None:
        self._database = database
        self._adapters = adapters
        self._on_applied = on_applied
        self._max_batch = max_batch
        self._linger = linger
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._limiter = anyio.CapacityLimiter(1)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="campaigner-event-writer")

    async def close(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None:
            return
        self._queue.put_nowait(None)
        await self._task
        self._task = None

    def enqueue(
        self, provider: Provider, body: bytes, content_type: str | None
    ) -> asyncio.Future[None]:
        """Queue one body; the future is done once it is committed, or fails with StoreFailed.

        A future rather than a coroutine: the HTTP server answers from its done callback, with
        no task per request.
        """
        stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._task is None or self._task.done():
            stored.set_exception(StoreFailed("the receiver is not running"))
        else:
            self._queue.put_nowait(_Pending(provider, body, content_type, stored))
        return stored

    async def _run(self) -> None:
        closing = False
        while not closing:
            first = await self._queue.get()
            if first is not None and self._linger and self._queue.qsize() < self._max_batch:
                await asyncio.sleep(self._linger)  # let the requests arriving now join the batch
            batch: list[_Pending] = []
            if first is None:
                closing = True
            else:
                batch.append(first)
            while len(batch) < self._max_batch and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    closing = True
                else:
                    batch.append(item)
            if batch:
                await self._write(batch)

    async def _write(self, batch: list[_Pending]) -> None:
        try:
            applied = await anyio.to_thread.run_sync(self._store, batch, limiter=self._limiter)
        except Exception as exc:
            log(logging.ERROR, "webhooks.store_failed", count=len(batch), error=describe_error(exc))
            for item in batch:
                if not item.stored.done():
                    item.stored.set_exception(StoreFailed(describe_error(exc)))
            return
        for item in batch:
            if not item.stored.done():  # the client may have hung up meanwhile
                item.stored.set_result(None)
        log(
            logging.DEBUG,
            "webhooks.stored",
            count=len(batch),
            finished=len(applied.finished),
            follow_ups=len(applied.follow_ups),
        )
        if applied.finished or applied.follow_ups:
            try:
                self._on_applied(applied)
            except Exception as exc:
                log(logging.ERROR, "webhooks.on_applied_failed", error=describe_error(exc))

    def _store(self, batch: Sequence[_Pending]) -> Applied:
        """In the worker thread: store and apply the batch in one transaction."""
        now = datetime.now(UTC)
        groups: dict[Provider, list[_Pending]] = {}
        for item in batch:
            groups.setdefault(item.provider, []).append(item)
        parts: list[Applied] = []
        with self._database.write() as connection:
            for provider, items in groups.items():
                try:
                    with connection.begin_nested():
                        parsed = self._parsed(provider, items)
                        parts.append(store_events(connection, provider, parsed, now))
                except Exception as exc:
                    log(
                        logging.ERROR,
                        "webhooks.apply_failed",
                        provider=provider.value,
                        count=len(items),
                        error=describe_error(exc),
                    )
                    bodies = [(item.body, item.content_type) for item in items]
                    store_raw_events(connection, provider, bodies, now)
        return Applied.merge(*parts)

    def _parsed(
        self, provider: Provider, items: Sequence[_Pending]
    ) -> list[tuple[bytes, str | None, WebhookResult]]:
        adapter = self._adapters[provider]
        return [
            (item.body, item.content_type, adapter.parse_webhook(item.body, _headers(item)))
            for item in items
        ]


def _headers(item: _Pending) -> dict[str, str]:
    return {"content-type": item.content_type} if item.content_type else {}
