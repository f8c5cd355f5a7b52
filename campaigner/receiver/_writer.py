"""Group commit: one writer stores and applies every webhook, many at a time.

One transaction per webhook cannot keep up with a fast campaign (SQLite commits one at a time).
Request handlers hand their body to `EventWriter.submit` and wait; one task takes everything that
is queued, runs the database work in a single worker thread (so the event loop keeps answering),
stores the raw bodies, applies them in the same transaction, commits, and only then lets each
handler answer. While one batch is being written the next one gathers, so the batches grow with
the load.

If applying a batch fails (a bug, not a bad body: bad bodies are `unparseable`), the raw bodies are
still committed with status `received` and the error is logged: a body is never lost.
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
from ..providers import ProviderAdapter
from ..store.attempts import Applied, apply_events, store_raw_events
from ._log import log

DEFAULT_MAX_BATCH = 1000


class StoreFailed(Exception):
    """The webhook could not be stored (the database refused the batch)."""


@dataclass
class _Pending:
    provider: Provider
    body: bytes
    content_type: str | None
    stored: asyncio.Future[int]


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
    ) -> None:
        self._database = database
        self._adapters = adapters
        self._on_applied = on_applied
        self._max_batch = max_batch
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

    async def submit(self, provider: Provider, body: bytes, content_type: str | None) -> int:
        """Store one body; returns its event id once committed. StoreFailed if it could not be."""
        if self._task is None or self._task.done():
            raise StoreFailed("the receiver is not running")
        stored: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(provider, body, content_type, stored))
        return await stored

    async def _run(self) -> None:
        closing = False
        while not closing:
            first = await self._queue.get()
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
            ids, applied = await anyio.to_thread.run_sync(self._store, batch, limiter=self._limiter)
        except Exception as exc:
            log(logging.ERROR, "webhooks.store_failed", count=len(batch), error=_one_line(exc))
            for item in batch:
                if not item.stored.done():
                    item.stored.set_exception(StoreFailed(str(exc)))
            return
        for item, event_id in zip(batch, ids, strict=True):
            if not item.stored.done():  # the client may have hung up meanwhile
                item.stored.set_result(event_id)
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
                log(logging.ERROR, "webhooks.on_applied_failed", error=_one_line(exc))

    def _store(self, batch: Sequence[_Pending]) -> tuple[list[int], Applied]:
        """In the worker thread: store the raw bodies, then apply them, in one transaction."""
        now = datetime.now(UTC)
        groups: dict[Provider, list[int]] = {}
        for index, item in enumerate(batch):
            groups.setdefault(item.provider, []).append(index)
        ids = [0] * len(batch)
        parts: list[Applied] = []
        with self._database.write() as connection:
            for provider, indexes in groups.items():
                bodies = [(batch[i].body, batch[i].content_type) for i in indexes]
                for index, event_id in zip(
                    indexes, store_raw_events(connection, provider, bodies, now), strict=True
                ):
                    ids[index] = event_id
            try:
                with connection.begin_nested():
                    for provider, indexes in groups.items():
                        adapter = self._adapters[provider]
                        parsed = [
                            (ids[i], adapter.parse_webhook(batch[i].body, _headers(batch[i])))
                            for i in indexes
                        ]
                        parts.append(apply_events(connection, provider, parsed, now))
            except Exception as exc:
                parts.clear()
                log(
                    logging.ERROR,
                    "webhooks.apply_failed",
                    count=len(batch),
                    first_event=ids[0],
                    error=_one_line(exc),
                )
        return ids, Applied.merge(*parts)


def _headers(item: _Pending) -> dict[str, str]:
    return {"content-type": item.content_type} if item.content_type else {}


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
