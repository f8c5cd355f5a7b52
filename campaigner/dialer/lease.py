"""This run as a worker of its campaign: its lease, and its claims marked as sent in batches.

`WorkerLease` registers the run in `workers`, renews its lease with each heartbeat (stopping dead
workers and taking over their work, see `store.workers`), and records how the run ended.

`Marker` is the write that tells a dead worker's unsent claims from requests that may have left:
a claim must be marked as sent before its request is written. Marking each one as it goes would
put a transaction on the hot path of every call, so requests are marked in batches a little ahead
of their turn (a quarter of a second of calls at the campaign's pace), in a thread and connection
of their own so that a claim or a batch of answers being written never delays a turn. The price
of marking ahead: if the run dies, up to that many requests marked but never sent are treated as
possibly sent (sent again with the same idempotency key, or failed at the call timeout), never
as unsent.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import timedelta
from functools import partial

import anyio
from sqlalchemy import Connection

from ..store.workers import Heartbeat, Identity, heartbeat, mark_sent, register, stop
from .clock import Clock
from .journal import DatabaseWorker
from .reporting import Reporter

MARK_AHEAD = 0.25  # seconds of calls at the campaign's pace marked ahead of their turn
MIN_MARK_AHEAD = 8  # requests marked ahead at the slowest paces


class WorkerLease:
    def __init__(
        self,
        db: DatabaseWorker,
        campaign_id: int,
        clock: Clock,
        lease: float,
        reporter: Reporter,
        *,
        sole_dialer: bool,
    ) -> None:
        self.db = db
        self.campaign_id = campaign_id
        self.clock = clock
        self.lease = timedelta(seconds=lease)
        self.interval = max(0.5, min(5.0, lease / 3))  # seconds between heartbeats
        self.reporter = reporter
        self.sole_dialer = sole_dialer  # SQLite: the lock says every other worker is dead
        self.identity = Identity.of_this_process()
        self.id = 0
        self.live_workers = 1

    async def start(self) -> None:
        self.id = await self.db.write(
            partial(
                register,
                campaign_id=self.campaign_id,
                identity=self.identity,
                now=self.clock.now(),
                lease=self.lease,
            )
        )
        self.reporter.note(
            "worker.started",
            f"worker {self.id} ({self.identity.host}, pid {self.identity.pid}) started, "
            f"holding its claims under a {self.lease.total_seconds():g}s lease",
            worker=self.id,
        )
        await self.beat()

    async def beat(self) -> bool:
        """Renew the lease (and stop dead workers); False when the lease was lost."""
        beat: Heartbeat = await self.db.write(
            partial(
                heartbeat,
                worker_id=self.id,
                campaign_id=self.campaign_id,
                identity=self.identity,
                now=self.clock.now(),
                lease=self.lease,
                others_dead=self.sole_dialer,
            )
        )
        if beat.alive:
            self.live_workers = beat.live_workers
        for worker_id, reason in beat.reaped.stopped:
            self.reporter.note(
                "worker.reaped", f"worker {worker_id} stopped: {reason}", worker=worker_id
            )
        if beat.reaped.released or beat.reaped.adopted:
            self.reporter.note(
                "worker.took_over",
                f"{beat.reaped.released} unsent claim(s) of stopped workers back in the queue; "
                f"{beat.reaped.adopted} call(s) that may have been sent taken over (settled by "
                "their webhooks, looked up or failed at the call timeout, never redialled blind)",
            )
        return beat.alive

    async def end(self, reason: str) -> None:
        if self.id:
            await self.db.write(
                partial(stop, worker_id=self.id, now=self.clock.now(), reason=reason)
            )


class Marker:
    """Marks claims as sent in batches, ahead of their turn (see the module docstring)."""

    def __init__(self, database: DatabaseWorker, lease: WorkerLease, rate: float, most: int):
        self.db = database
        self.lease = lease
        self.ahead = most if math.isinf(rate) else max(MIN_MARK_AHEAD, math.ceil(rate * MARK_AHEAD))
        self.ahead = min(self.ahead, most)
        self._queue: deque[int] = deque()
        self._waiting: dict[int, anyio.Event] = {}
        self._marked: set[int] = set()  # marked, the request not yet written
        self._refused: set[int] = set()  # no longer held by this worker: not to be sent
        self._wake = anyio.Event()

    async def wait(self, attempt_id: int) -> bool:
        """Until the claim is marked as sent; False if this worker no longer holds it."""
        done = self._waiting[attempt_id] = anyio.Event()
        self._queue.append(attempt_id)
        self._wake.set()
        await done.wait()
        if attempt_id in self._refused:
            self._refused.discard(attempt_id)
            return False
        return True

    def left(self, attempt_id: int) -> None:
        """The claim's request was written, or given up: its place ahead is free."""
        self._marked.discard(attempt_id)
        if len(self._marked) <= self.ahead // 2:
            self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            while self._queue and len(self._marked) <= self.ahead // 2:
                count = min(len(self._queue), self.ahead - len(self._marked))
                ids = [self._queue.popleft() for _ in range(count)]
                marked = await self.db.write(partial(self._mark, ids))
                for attempt_id in ids:
                    if attempt_id in marked:
                        self._marked.add(attempt_id)
                    else:
                        self._refused.add(attempt_id)
                    self._waiting.pop(attempt_id).set()

    def _mark(self, attempt_ids: list[int], connection: Connection) -> set[int]:
        return mark_sent(connection, self.lease.id, attempt_ids, self.lease.clock.now())
