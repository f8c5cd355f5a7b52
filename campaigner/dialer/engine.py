"""The dialing loop: claim due contacts, pace and send their requests, record what comes back.

    dialer = Dialer(database, campaign, adapter, credentials, callback_url=..., options=...)
    result = await dialer.run()        # a RunResult: why it stopped, its exit code, the counts

Tasks, all on one event loop, all database work in one worker thread (`journal`):

- the feeder claims due contacts (`store.queue.claim_due`) as long as calls in flight leave room
  and about half a second of calls is not already waiting for its turn; each claimed contact gets
  a dial task;
- a dial task waits for its turn (`Pacer`), checks the contact's calling window again, sends the
  request and deals with the answer (see `sending`);
- the do-not-call watch reads numbers added to the do-not-call list (a keypress opt-out, `suppress
  add`) every `dnc_interval`, so that a contact claimed before its number was listed is not
  dialled: each request checks `blocked` just before it is written (see `sending`); numbers
  opted out through this run's own receiver are blocked at once, through `on_applied`;
- the monitor looks at the campaign every second: a pause or a cancel from another terminal stops
  the run; the campaign's live attempts correct the count of calls in flight (calls end by webhook,
  here through `on_applied` or in another process); stale calls are reconciled or failed; progress
  is reported; the deadline is watched.

With several workers on PostgreSQL (`campaigner run` on one machine or many), each run is a
worker with a lease (`lease`): its claims are created unsent and marked as sent in batches just
ahead of their turn (`lease.Marker`), the heartbeat (in the monitor) renews the lease and takes
over the work of dead workers, the calls-per-second cap is shared through the database
(`pacing.SharedPacer`) and claims stop where the campaign's calls in flight, every worker's,
reach its cap. On SQLite the run is the only dialer (`sqlite_lock`) and paces itself (`Pacer`).

A run stops when every contact is final, when nothing is due before --max-wait, at the deadline,
on a pause or cancel, on a provider's refusal, when the circuit breaker trips, or on a signal.
Stopping means: no new request goes out, claimed requests not yet sent are given back, requests
already out get their answers recorded, and calls still live get up to `drain_timeout` to end.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import anyio
from anyio.abc import TaskGroup
from sqlalchemy import Connection, select

from ..campaigns import Campaign
from ..db import Database
from ..db.schema import campaigns
from ..durations import format_duration
from ..errors import InvalidTransition
from ..model import CampaignStatus, ContactState
from ..providers import Credentials, ProviderAdapter
from ..store.attempts import Applied
from ..store.campaigns import contact_counts, get_campaign_by_id, set_status
from ..store.queue import (
    Claimed,
    claim_due,
    last_attempt_id,
    live_attempt_ids,
    outcome_counts,
    outlook,
)
from ..store.suppressions import last_suppression_id, suppressed_since
from ..store.workers import forget_slots, reserve_slots
from .backoff import Backoff
from .breaker import CircuitBreaker
from .calls import CallBuilder
from .clock import Clock, SystemClock
from .http import ProviderClient, Timeouts
from .journal import DatabaseWorker, Journal, Written
from .lease import Marker, WorkerLease
from .pacing import Pacer, SharedPacer
from .progress import RateMeter, Snapshot
from .reporting import Reporter, RunResult
from .sending import Sender, WindowCheck
from .stopping import ExitCode, Finish, Later, Stop, Wait, when_idle

# The share of the calls in flight allowed that must be free before a claim that they limit: a
# claim costs a few milliseconds whatever its size (its statements and its commit), and where the
# call slots limit the pace (uncapped), they come free a few at a time, as calls end. Measured on
# the dial benchmark (uncapped, 2,000 in flight): 1,798 claims of 56 contacts, 6.8 ms of CPU each.
MIN_CLAIM_SHARE = 0.05
# Seconds of calls claimed ahead of their turn. A claim checks the do-not-call list (the window is
# checked again as each request goes out), so it should be no older than this when its request
# leaves; enough ahead that a claim waiting behind a batch of answers being written does not leave
# the pace without requests to send.
CLAIM_AHEAD = 1.0


@dataclass(frozen=True)
class RunOptions:
    clock: Clock = field(default_factory=SystemClock)
    max_duration: float | None = None  # seconds; then stop with work left (exit 75)
    until: datetime | None = None  # the same, at an instant
    max_wait: float = 300.0  # seconds to wait for the next due contact rather than exit 75
    call_timeout: float = 300.0  # seconds after which a call without a final event is failed
    drain_timeout: float = 60.0  # seconds to wait for live calls to end once stopping
    timeouts: Timeouts = field(default_factory=Timeouts)
    breaker_threshold: int = 20  # provider failures in a row that pause the campaign
    max_batch: int = 500  # contacts claimed per transaction
    backoff: Backoff = field(default_factory=Backoff)
    status_interval: float = 1.0  # seconds between looks at the campaign's status
    reconcile_interval: float = 5.0  # seconds between looks for stale calls
    seed: int | None = None  # of the backoff jitter
    lease: float = 30.0  # seconds a worker's claims outlive its last heartbeat
    dnc_interval: float = 0.2  # seconds between looks for numbers newly on the do-not-call list
    notify_drain: float = 10.0  # seconds spent at the end delivering the notifications left


class Dialer:
    def __init__(
        self,
        database: Database,
        campaign: Campaign,
        adapter: ProviderAdapter,
        credentials: Credentials,
        reporter: Reporter,
        *,
        callback_url: str | None = None,
        options: RunOptions | None = None,
    ) -> None:
        self.campaign = campaign
        self.options = options or RunOptions()
        self.reporter = reporter
        self.clock = self.options.clock
        self.db = DatabaseWorker(database)
        self.builder = CallBuilder(campaign, adapter, credentials, callback_url)
        settings = campaign.settings
        self.max_in_flight = settings.max_in_flight
        # Several workers may share the campaign on PostgreSQL; SQLite has one dialer.
        self.shared = not database.is_sqlite
        self.lease = WorkerLease(
            DatabaseWorker(database),  # a connection of its own: never queued behind a claim
            campaign.id,
            self.clock,
            self.options.lease,
            reporter,
            sole_dialer=not self.shared,
        )
        self.pacer: Pacer | SharedPacer = Pacer(settings.calls_per_second)
        if self.shared and settings.calls_per_second:
            pace_db = DatabaseWorker(database)
            self.pacer = SharedPacer(
                settings.calls_per_second,
                partial(_reserve, pace_db, campaign.id),
                lambda: len(self.unsent) + (self.lookahead if self.more_due else 0),
                lambda: self.lease.live_workers,
                partial(_forget, pace_db, campaign.id),
            )
        self.rate_cap = self.pacer.pace.rate if self.pacer.pace else math.inf
        self.lookahead = self._lookahead(1)
        self.min_claim = max(1, math.floor(self.max_in_flight * MIN_CLAIM_SHARE))
        self.marker = (
            Marker(DatabaseWorker(database), self.lease, self.rate_cap, self.lookahead)
            if self.shared
            else None
        )
        self.client = ProviderClient(adapter, self.options.timeouts)
        self.journal = Journal(
            self.db,
            campaign.id,
            self.clock,
            self._written,
            (lambda: self.lease.id) if self.shared else (lambda: 0),
        )
        self.windows = WindowCheck(settings.window)
        self.sender = Sender(
            self,
            adapter,
            credentials,
            CircuitBreaker(self.options.breaker_threshold),
            self.options.backoff,
            random.Random(self.options.seed),
        )
        # Calls in flight: this run's attempts not known to be final, and everyone else's.
        self.live: set[int] = set()
        self.others = 0
        self.unsent: dict[int, Claimed[Any]] = {}  # claimed, waiting for their turn
        self.more_due = False  # the last claim was full: more contacts are likely due
        self.blocked: set[str] = set()  # numbers put on the do-not-call list since the run began
        self.tasks = 0  # dial tasks running
        self.dialled = 0
        self.rate = RateMeter()
        self.stop: Stop | None = None
        self.stop_message = ""
        self.stopped = anyio.Event()
        self._poked = anyio.Event()
        self._started = time.monotonic()
        self._deadline = self._deadline_from(self.options)
        self._first_attempt = 0
        self._tasks: TaskGroup | None = None

    # --- What other parts call --------------------------------------------------------------

    def on_applied(self, applied: Applied) -> None:
        """The receiver's callback (on this loop): attempts that ended free their call slots;
        numbers opted out are not dialled."""
        self.blocked.update(applied.opted_out)
        self._finished(applied.finished)

    def request_stop(self, stop: Stop, message: str) -> None:
        """Stop dialing (the first reason given is the one reported)."""
        if self.stop is None:
            self.stop, self.stop_message = stop, message
            self.stopped.set()
            if stop is not Stop.FINISHED:  # the summary says it; the others come before a drain
                self.reporter.note(f"stop.{stop.value}", f"stopping: {message}")
        self.poke()

    def poke(self) -> None:
        """Wake the feeder: a slot came free, a claim was sent or given back, a stop."""
        self._poked.set()

    def start_task(self, function: Any, *args: Any) -> None:
        assert self._tasks is not None
        self._tasks.start_soon(function, *args)

    @property
    def in_flight(self) -> int:
        return len(self.live) + self.others

    def take_unsent(self, attempt_id: int) -> bool:
        """The claim leaves `unsent` (its request is about to be written, or given up)."""
        if self.marker is not None:
            self.marker.left(attempt_id)
        return self.unsent.pop(attempt_id, None) is not None

    def lost(self, attempt_id: int) -> None:
        """A claim another worker has taken over (this one stalled past its lease)."""
        self.take_unsent(attempt_id)
        self._finished_ids([attempt_id])

    def _lookahead(self, workers: int) -> int:
        """Claims held ahead of their turn: a second of this worker's share of the pace, twice
        over so that it can take up what others leave (all of it for a single worker)."""
        share = self.rate_cap if workers <= 1 else 2 * self.rate_cap / workers
        return max(1, min(self.options.max_batch, math.ceil(share * CLAIM_AHEAD)))

    # --- The run ----------------------------------------------------------------------------

    async def run(self) -> RunResult:
        self._first_attempt = await self.db.read(last_attempt_id)
        await self.lease.start()
        listed_up_to = await self.db.read(last_suppression_id)
        try:
            async with anyio.create_task_group() as tasks:
                self._tasks = tasks
                tasks.start_soon(self.journal.run)
                tasks.start_soon(self._monitor)
                tasks.start_soon(self._heartbeats)
                if self.marker is not None:
                    tasks.start_soon(self.marker.run)
                if isinstance(self.pacer, SharedPacer):
                    tasks.start_soon(self.pacer.run)
                tasks.start_soon(self._watch_do_not_call, listed_up_to)
                await self._feed()
                await self._drain()
                self.journal.close()
                with anyio.move_on_after(self.options.timeouts.read + 10):
                    while self.tasks:
                        await self._wait(1.0)
                tasks.cancel_scope.cancel()
        finally:
            # Even when cut short: claims never sent are given back, answers heard are recorded.
            with anyio.CancelScope(shield=True):
                for attempt_id in list(self.unsent):
                    self.journal.release(attempt_id, None)
                await self.journal.flush()
                await self.lease.end(self._ending())
            self.client.close()
        return await self._finish()

    async def _feed(self) -> None:
        while self.stop is None:
            if self._deadline is not None and self.clock.now() >= self._deadline:
                self.request_stop(Stop.DEADLINE, "the run's time is up (--max-duration / --until)")
                return
            free = self.max_in_flight - self.in_flight
            room = self.lookahead - len(self.unsent)
            want = min(free, room, self.options.max_batch)
            if (
                want <= 0
                or len(self.unsent) > self.lookahead // 2  # claim in batches
                or free < min(room, self.min_claim)  # the call slots limit it: gather some first
            ):
                await self._wait(1.0)
                continue
            batch = await self.db.write(partial(self._claim, self.clock.now(), want))
            self.more_due = len(batch.claimed) >= want
            if batch.status is not CampaignStatus.RUNNING:
                await self._status_changed(batch.status)
                return
            for claimed in batch.claimed:
                self.live.add(claimed.attempt_id)
                self.unsent[claimed.attempt_id] = claimed
                self.start_task(self.sender.dial, claimed)
            if batch.claimed or batch.deferred or batch.suppressed or batch.uncallable:
                continue
            if self.live:  # this run's calls may yet bring retries: decide once they are done
                await self._wait(1.0)
                continue
            look = await self.db.read(partial(outlook, campaign_id=self.campaign.id))
            now = self.clock.now()
            decision = when_idle(
                pending=look.pending,
                in_progress=look.in_progress,
                next_due=look.next_due,
                now=now,
                max_wait=timedelta(seconds=self.options.max_wait),
                deadline=self._deadline,
            )
            if isinstance(decision, Finish):
                self.request_stop(Stop.FINISHED, "completed: every contact is final")
            elif isinstance(decision, Later):
                self.request_stop(decision.reason, _later_words(decision, now))
            elif isinstance(decision, Wait):
                wait = 1.0 if decision.until is None else self.clock.seconds_until(decision.until)
                await self._wait(min(wait, self.options.max_wait))

    def _claim(self, now: datetime, limit: int, connection: Connection) -> Any:
        return claim_due(
            connection,
            self.campaign,
            now,
            limit,
            self.builder,
            worker_id=self.lease.id,
            sent=not self.shared,
            max_in_flight=self.max_in_flight if self.shared else None,
        )

    def _ending(self) -> str:
        stop = self.stop or Stop.INTERRUPTED
        return f"{stop.value}: {self.stop_message}" if self.stop_message else stop.value

    async def _wait(self, seconds: float) -> None:
        """Until poked or `seconds` pass."""
        with anyio.move_on_after(max(0.0, seconds)):
            await self._poked.wait()
        self._poked = anyio.Event()

    async def _drain(self) -> None:
        """Once stopping: let dial tasks end, then give live calls time to end."""
        with anyio.move_on_after(self.options.drain_timeout):
            while self.tasks or self.live:
                await self._wait(1.0)

    async def _finish(self) -> RunResult:
        stop = self.stop or Stop.INTERRUPTED
        if stop in (Stop.REFUSED, Stop.BREAKER):
            await self._set_status(CampaignStatus.PAUSED, self.stop_message)
        elif stop is Stop.FINISHED:
            await self._set_status(CampaignStatus.COMPLETED, None)
        counts = await self.db.read(partial(_contact_counts, campaign_id=self.campaign.id))
        next_due = None
        if stop.exit_code is ExitCode.LATER:
            look = await self.db.read(partial(outlook, campaign_id=self.campaign.id))
            next_due = max(look.next_due, self.clock.now()) if look.next_due else None
        result = RunResult(
            campaign=self.campaign.name,
            stop=stop,
            message=self.stop_message,
            dialled=self.dialled,
            elapsed=time.monotonic() - self._started,
            contacts=counts,
            next_due=next_due,
        )
        self.reporter.finished(result)
        return result

    async def _set_status(self, status: CampaignStatus, reason: str | None) -> None:
        def change(connection: Connection) -> None:
            campaign = get_campaign_by_id(connection, self.campaign.id)
            with contextlib.suppress(InvalidTransition):  # cancelled meanwhile: that stands
                set_status(connection, campaign, status, reason)

        await self.db.write(change)

    async def _status_changed(self, status: CampaignStatus) -> None:
        reason = await self.db.read(partial(_status_reason, campaign_id=self.campaign.id))
        said = f": {reason}" if reason else ""
        if status is CampaignStatus.CANCELLED:
            self.request_stop(Stop.CANCELLED, f"cancelled by an operator{said}")
        elif status is CampaignStatus.PAUSED:
            self.request_stop(Stop.PAUSED, f"paused by an operator{said}")
        else:
            self.request_stop(Stop.FINISHED, f"the campaign is {status.value}")

    async def _watch_do_not_call(self, listed_up_to: int) -> None:
        while True:
            await anyio.sleep(self.options.dnc_interval)
            listed_up_to, phones = await self.db.read(
                partial(
                    suppressed_since,
                    campaign_id=self.campaign.id,
                    after_id=listed_up_to,
                )
            )
            self.blocked.update(phones)

    # --- The monitor ------------------------------------------------------------------------

    async def _monitor(self) -> None:
        # Often enough that a quiet call is seen between half the call timeout and all of it,
        # when a request that may not have left is sent again.
        reconcile_interval = min(self.options.reconcile_interval, self.options.call_timeout / 4)
        next_reconcile = time.monotonic() + reconcile_interval
        next_report = time.monotonic() + min(self.reporter.interval, 1.0)
        while True:
            await anyio.sleep(self.options.status_interval)
            before = set(self.live)
            status, live_ids = await self.db.read(self._look)
            self._finished_ids(before - live_ids)
            self.others = len(live_ids - before - self.live)
            if status is not CampaignStatus.RUNNING and self.stop is None:
                await self._status_changed(status)
            if time.monotonic() >= next_reconcile:
                await self.sender.reconcile(self.options.call_timeout)
                next_reconcile = time.monotonic() + reconcile_interval
            if self._deadline is not None and self.clock.now() >= self._deadline:
                self.request_stop(Stop.DEADLINE, "the run's time is up (--max-duration / --until)")
            if time.monotonic() >= next_report:
                self.reporter.progress(await self._snapshot())
                next_report = time.monotonic() + self.reporter.interval

    async def _heartbeats(self) -> None:
        """Renew the lease, in a task of its own so that no other work delays it."""
        while True:
            await anyio.sleep(self.lease.interval)
            if not await self.lease.beat():
                self.request_stop(
                    Stop.LEASE_LOST,
                    f"worker {self.lease.id} lost its lease (it stalled for longer than "
                    f"{self.options.lease:g}s): another worker has taken over its claims and calls",
                )
                return
            if self.shared:
                self.lookahead = self._lookahead(self.lease.live_workers)

    def _look(self, connection: Connection) -> tuple[CampaignStatus, set[int]]:
        status = connection.execute(
            select(campaigns.c.status).where(campaigns.c.id == self.campaign.id)
        ).scalar_one()
        return CampaignStatus(status), live_attempt_ids(connection, self.campaign.id)

    async def _snapshot(self) -> Snapshot:
        def read(connection: Connection) -> tuple[dict[str, int], int, datetime | None]:
            look = outlook(connection, self.campaign.id)
            counts = outcome_counts(connection, self.campaign.id, self._first_attempt)
            return counts, look.pending, look.next_due

        outcomes, pending, next_due = await self.db.read(read)
        now = self.clock.now()
        return Snapshot(
            campaign=self.campaign.name,
            elapsed=time.monotonic() - self._started,
            dialled=self.dialled,
            in_flight=self.in_flight,
            rate=self.rate.rate(time.monotonic()),
            cap=self.campaign.settings.calls_per_second,
            outcomes=outcomes,
            pending=pending,
            next_due=next_due if next_due and next_due > now else None,
            stopping=self.stop_message if self.stop else None,
        )

    # --- Bookkeeping ------------------------------------------------------------------------

    def _written(self, written: Written) -> None:
        self._finished(written.applied.finished)
        self._finished_ids(written.released)

    def _finished(self, finished: Iterable[Any]) -> None:
        self._finished_ids(
            item.attempt_id for item in finished if item.campaign_id == self.campaign.id
        )

    def _finished_ids(self, attempt_ids: Iterable[int]) -> None:
        before = len(self.live)
        self.live.difference_update(attempt_ids)
        if len(self.live) != before:
            self.poke()

    @staticmethod
    def _deadline_from(options: RunOptions) -> datetime | None:
        deadlines = [options.until] if options.until else []
        if options.max_duration is not None:
            deadlines.append(options.clock.now() + timedelta(seconds=options.max_duration))
        return min(deadlines) if deadlines else None


def _later_words(decision: Later, now: datetime) -> str:
    if decision.next_due is None:
        return "nothing is due"
    wait = round((decision.next_due - now).total_seconds())
    why = (
        "the run's time is up before then"
        if decision.reason is Stop.DEADLINE
        else "calling windows are closed or retries are waiting"
    )
    return f"no contact is due for {format_duration(max(0, wait))} ({why})"


async def _reserve(
    db: DatabaseWorker, campaign_id: int, second: int, want: int, size: int
) -> tuple[int, int]:
    return await db.write(
        partial(reserve_slots, campaign_id=campaign_id, second=second, want=want, size=size)
    )


async def _forget(db: DatabaseWorker, campaign_id: int, before_second: int) -> None:
    await db.write(partial(forget_slots, campaign_id=campaign_id, before_second=before_second))


def _contact_counts(connection: Connection, campaign_id: int) -> dict[ContactState, int]:
    return dict(contact_counts(connection, [campaign_id])[campaign_id])


def _status_reason(connection: Connection, campaign_id: int) -> str | None:
    reason: str | None = connection.execute(
        select(campaigns.c.status_reason).where(campaigns.c.id == campaign_id)
    ).scalar_one()
    return reason
