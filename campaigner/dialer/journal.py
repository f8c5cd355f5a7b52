"""The dialer's database work: one thread, one call at a time, answers written in batches.

Blocking database calls never run on the event loop: `DatabaseWorker` runs them in a worker thread
behind a `CapacityLimiter(1)`, so the dialer's transactions never contend with each other (on
SQLite there is one writer anyway).

`Journal` collects what the dial tasks learn (the provider's answers, ambiguous requests, claims to
undo) and writes it in one transaction per batch: while one batch is being written, the next
gathers. At hundreds of calls a second that is the difference between a few transactions a second
and hundreds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TypeVar

import anyio
import anyio.to_thread
from sqlalchemy import Connection

from ..db import Database
from ..providers import DialAnswer
from ..store.attempts import Applied, record_ambiguous, record_dial_answers
from ..store.attempts._rows import serialise
from ..store.queue import release_unsent
from .clock import Clock

T = TypeVar("T")

# Seconds a batch gathers before it is written: answers are recorded at most this much later.
GATHER = 0.1


class DatabaseWorker:
    """Runs database work in one worker thread, one call at a time."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._limiter = anyio.CapacityLimiter(1)

    async def read(self, work: Callable[[Connection], T]) -> T:
        return await anyio.to_thread.run_sync(self._read, work, limiter=self._limiter)

    async def write(self, work: Callable[[Connection], T]) -> T:
        return await anyio.to_thread.run_sync(self._write, work, limiter=self._limiter)

    def _read(self, work: Callable[[Connection], T]) -> T:
        with self.database.read() as connection:
            return work(connection)

    def _write(self, work: Callable[[Connection], T]) -> T:
        with self.database.write() as connection:
            return work(connection)


@dataclass
class _Batch:
    answers: list[tuple[int, DialAnswer]] = field(default_factory=list)
    ambiguous: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    releases: dict[int, datetime | None] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.answers or self.ambiguous or self.releases)


@dataclass(frozen=True)
class Written:
    """What a batch did: attempts that got an outcome, claims undone."""

    applied: Applied
    released: list[int]


class Journal:
    def __init__(
        self,
        worker: DatabaseWorker,
        campaign_id: int,
        clock: Clock,
        on_written: Callable[[Written], None],
        owner: Callable[[], int] = lambda: 0,
    ) -> None:
        self._worker = worker
        self._owner = owner  # the worker id whose claims these are (0: none recorded)
        self._campaign_id = campaign_id
        self._clock = clock
        self._on_written = on_written
        self._batch = _Batch()
        self._dirty = anyio.Event()
        self._closing = False

    def answer(self, attempt_id: int, answer: DialAnswer) -> None:
        self._batch.answers.append((attempt_id, answer))
        self._dirty.set()

    def ambiguous(self, attempt_id: int, reason: str) -> None:
        self._batch.ambiguous[reason].append(attempt_id)
        self._dirty.set()

    def release(self, attempt_id: int, due_again: datetime | None) -> None:
        """Undo the claim of an attempt whose request was never sent."""
        self._batch.releases[attempt_id] = due_again
        self._dirty.set()

    async def run(self) -> None:
        """Write batches as they gather, until `close()` and the last one is written."""
        while True:
            await self._dirty.wait()
            if not self._closing:
                await anyio.sleep(GATHER)  # let the batch grow: one transaction for many answers
            self._dirty = anyio.Event()
            if self._batch:
                await self.flush()
            if self._closing and not self._batch:
                return

    def close(self) -> None:
        """Let `run` return once everything gathered so far is written."""
        self._closing = True
        self._dirty.set()

    async def flush(self) -> None:
        batch, self._batch = self._batch, _Batch()
        if batch:
            written = await self._worker.write(partial(self._write, batch, self._clock.now()))
            self._on_written(written)

    def _write(self, batch: _Batch, now: datetime, connection: Connection) -> Written:
        """One transaction for the batch. With several workers, each statement changes only the
        attempts this worker still holds (the fencing of `store.workers`): one that stalled past
        its lease has had its claims taken over, and what it learnt is no longer its to write."""
        # The attempt functions' lock first: on PostgreSQL it is taken before other changes.
        serialise(connection)
        owner = self._owner() or None
        for reason, attempt_ids in batch.ambiguous.items():
            record_ambiguous(connection, attempt_ids, reason, now, owner=owner)
        applied = (
            record_dial_answers(connection, batch.answers, now, owner=owner)
            if batch.answers
            else Applied([], [])
        )
        released = release_unsent(connection, self._campaign_id, batch.releases, now, owner=owner)
        return Written(applied, released)
