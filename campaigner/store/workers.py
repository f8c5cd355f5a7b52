"""Workers: the `campaigner run` processes dialing a campaign, their leases, and the shared pace.

Every run registers a row in `workers` and holds its claims (the attempts naming it) under a
lease: it renews `lease_expires_at` with each heartbeat. A worker is dead once its lease has
expired, or, seen from the same host (the same kernel boot and PID namespace), once its process
is gone. Any live worker of the campaign that notices stops the dead one's row and, in the same
transaction (`heartbeat`):

- puts its unsent claims (`sent_at` NULL) back in the queue: no request carried their keys;
- takes over its attempts that may have been sent: they are settled by their webhooks, looked up
  or sent again with the same idempotency key, or failed at the call timeout; never redialled.

The worker id is the fencing token: ids are never reused, and every write a worker makes about
its claims is conditioned on still holding them (`mark_sent`, `owned`, `release_unsent(owner=)`).
A worker that wakes after its lease was taken finds its unsent claims gone and its calls held by
another, so it cannot send them or write over the new holder's work; its next heartbeat tells it
the lease is lost, and it stops.

The pace (`reserve_slots`): on PostgreSQL a campaign's calls-per-second cap is shared by its
workers through one row per second of `pace_slots`. The seconds hold a grid of instants evenly
spaced at the campaign's pace (see `dialer.pacing`); a worker reserves a batch of a second's
instants in one `UPDATE ... RETURNING` and sends a request at each instant it holds, so that all
workers together keep the spacing a single dialer would.
"""

from __future__ import annotations

import os
import socket
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, RowMapping, case, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql

from ..db.schema import attempts, campaigns, pace_slots, workers
from .attempts._rows import serialise
from .queue import release_claims_of


@dataclass(frozen=True)
class Identity:
    """Where a worker runs: its host's name, its pid, and the space in which that pid means it."""

    host: str
    pid: int
    pid_space: str

    @classmethod
    def of_this_process(cls) -> Identity:
        return cls(socket.gethostname(), os.getpid(), _pid_space())

    def sees_pids_of(self, pid_space: str) -> bool:
        return bool(pid_space) and pid_space == self.pid_space


def _pid_space() -> str:
    """The kernel's boot id and this process's PID namespace (Linux); "" where unknown."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}/{os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return ""


def process_exists(pid: int) -> bool:
    """Whether a process with this pid is running here (a zombie has ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def register(
    connection: Connection,
    campaign_id: int,
    identity: Identity,
    now: datetime,
    lease: timedelta,
) -> int:
    """A new worker of the campaign, its lease starting now; returns its id."""
    worker_id: int = connection.execute(
        insert(workers)
        .values(
            campaign_id=campaign_id,
            host=identity.host,
            pid=identity.pid,
            pid_space=identity.pid_space,
            started_at=now,
            heartbeat_at=now,
            lease_expires_at=now + lease,
        )
        .returning(workers.c.id)
    ).scalar_one()
    return worker_id


@dataclass(frozen=True)
class Reaped:
    """What a heartbeat did about dead workers."""

    stopped: list[tuple[int, str]] = field(default_factory=list)  # (worker id, why)
    released: int = 0  # their unsent claims put back in the queue
    adopted: int = 0  # their attempts that may have been sent, now held by this worker


@dataclass(frozen=True)
class Heartbeat:
    alive: bool  # False: the lease was lost (another worker found this one dead)
    live_workers: int  # the campaign's live workers, this one included
    reaped: Reaped


def heartbeat(
    connection: Connection,
    worker_id: int,
    campaign_id: int,
    identity: Identity,
    now: datetime,
    lease: timedelta,
    *,
    others_dead: bool = False,
) -> Heartbeat:
    """Renew this worker's lease, then stop the campaign's dead workers and take over their
    work (see the module docstring). `others_dead`: every other worker not stopped is known to
    be dead (the SQLite dialer holds the database's lock)."""
    serialise(connection)  # before any change to attempts, as `store.attempts` requires
    renewed = connection.execute(
        update(workers)
        .where(workers.c.id == worker_id, workers.c.stopped_at.is_(None))
        .values(heartbeat_at=now, lease_expires_at=now + lease)
    ).rowcount
    if not renewed:
        return Heartbeat(False, 0, Reaped())
    reaped = _reap(connection, worker_id, campaign_id, identity, now, others_dead)
    live = connection.execute(
        select(func.count()).where(
            workers.c.campaign_id == campaign_id,
            workers.c.stopped_at.is_(None),
            workers.c.lease_expires_at > now,
        )
    ).scalar_one()
    return Heartbeat(True, max(1, live), reaped)


def _reap(
    connection: Connection,
    worker_id: int,
    campaign_id: int,
    identity: Identity,
    now: datetime,
    others_dead: bool,
) -> Reaped:
    query = select(
        workers.c.id, workers.c.pid, workers.c.pid_space, workers.c.lease_expires_at
    ).where(
        workers.c.campaign_id == campaign_id,
        workers.c.stopped_at.is_(None),
        workers.c.id != worker_id,
    )
    if connection.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)  # another worker is reaping these
    stopped: list[tuple[int, str]] = []
    for other, pid, pid_space, expires in connection.execute(query):
        if others_dead:
            stopped.append((other, "its process is gone (the database's dialer lock was free)"))
        elif expires <= now:
            stopped.append((other, "its lease expired (no heartbeat)"))
        elif identity.sees_pids_of(pid_space) and not process_exists(pid):
            stopped.append((other, "its process is gone"))
    for other, reason in stopped:
        connection.execute(
            update(workers)
            .where(workers.c.id == other)
            .values(stopped_at=now, stop_reason=f"stopped by worker {worker_id}: {reason}")
        )
    released = release_claims_of(connection, campaign_id, [other for other, _ in stopped], now)
    adopted = connection.execute(
        update(attempts)
        .where(
            attempts.c.campaign_id == campaign_id,
            attempts.c.outcome.is_(None),
            attempts.c.worker_id.in_(
                select(workers.c.id).where(
                    workers.c.campaign_id == campaign_id, workers.c.stopped_at.is_not(None)
                )
            ),
        )
        .values(worker_id=worker_id)
    ).rowcount
    return Reaped(stopped, len(released), adopted)


def stop(connection: Connection, worker_id: int, now: datetime, reason: str) -> None:
    """This worker ends (its calls still live are taken over by the next worker's heartbeat)."""
    connection.execute(
        update(workers)
        .where(workers.c.id == worker_id, workers.c.stopped_at.is_(None))
        .values(stopped_at=now, heartbeat_at=now, stop_reason=reason)
    )


def mark_sent(
    connection: Connection, worker_id: int, attempt_ids: Sequence[int], now: datetime
) -> set[int]:
    """Mark claims as possibly sent, just before their requests are written; returns the ids
    marked: those this worker still holds, unsent and without an outcome (the fencing)."""
    if not attempt_ids:
        return set()
    chosen = (
        select(attempts.c.id)
        .where(
            attempts.c.id.in_(list(attempt_ids)),
            attempts.c.worker_id == worker_id,
            attempts.c.sent_at.is_(None),
            attempts.c.outcome.is_(None),
        )
        .order_by(attempts.c.id)
    )
    if connection.dialect.name == "postgresql":
        chosen = chosen.with_for_update()
    marked = connection.execute(
        update(attempts)
        .where(attempts.c.id.in_(chosen.scalar_subquery()))
        .values(sent_at=now)
        .returning(attempts.c.id)
    )
    return set(marked.scalars())


def owned(connection: Connection, worker_id: int, attempt_ids: Sequence[int]) -> set[int]:
    """Which of these attempts this worker still holds."""
    if not attempt_ids:
        return set()
    return set(
        connection.execute(
            select(attempts.c.id).where(
                attempts.c.id.in_(list(attempt_ids)), attempts.c.worker_id == worker_id
            )
        ).scalars()
    )


# --- The shared pace ---------------------------------------------------------------------------


def reserve_slots(
    connection: Connection, campaign_id: int, second: int, want: int, size: int
) -> tuple[int, int]:
    """Reserve up to `want` of the `size` slots of one second (PostgreSQL); returns the index
    of the first slot reserved within the second and how many were (0: the second is full)."""
    if want < 1 or size < 1:
        return 0, 0
    row = connection.execute(
        postgresql.insert(pace_slots)
        .values(
            campaign_id=campaign_id,
            epoch_second=second,
            taken=min(want, size),
            granted=min(want, size),
        )
        .on_conflict_do_update(
            index_elements=[pace_slots.c.campaign_id, pace_slots.c.epoch_second],
            set_={
                "granted": func.greatest(0, func.least(want, size - pace_slots.c.taken)),
                "taken": pace_slots.c.taken
                + func.greatest(0, func.least(want, size - pace_slots.c.taken)),
            },
        )
        .returning(pace_slots.c.taken, pace_slots.c.granted)
    ).one()
    taken, granted = row
    return taken - granted, granted


def forget_slots(connection: Connection, campaign_id: int, before_second: int) -> None:
    """Delete the pace rows of seconds gone by."""
    connection.execute(
        delete(pace_slots).where(
            pace_slots.c.campaign_id == campaign_id, pace_slots.c.epoch_second < before_second
        )
    )


# --- What `campaigner workers` shows -----------------------------------------------------------


@dataclass(frozen=True)
class WorkerView:
    id: int
    campaign: str
    host: str
    pid: int
    state: str  # live, dead (not yet noticed by another worker), stopped
    started_at: datetime
    heartbeat_at: datetime
    lease_expires_at: datetime
    stopped_at: datetime | None
    reason: str | None  # why it is dead or stopped
    claimed: int  # claims held, not sent
    calls: int  # attempts held that may have been sent and have no outcome yet


def list_workers(
    connection: Connection,
    now: datetime,
    identity: Identity,
    *,
    campaign_id: int | None = None,
    stopped_since: datetime | None = None,
) -> list[WorkerView]:
    """Workers, newest first: those not stopped, and those stopped since `stopped_since` (all
    when None), with what each holds."""
    query = (
        select(workers, campaigns.c.name)
        .join(campaigns, campaigns.c.id == workers.c.campaign_id)
        .order_by(workers.c.id.desc())
    )
    if campaign_id is not None:
        query = query.where(workers.c.campaign_id == campaign_id)
    if stopped_since is not None:
        query = query.where(
            or_(workers.c.stopped_at.is_(None), workers.c.stopped_at >= stopped_since)
        )
    rows = connection.execute(query).mappings().all()
    held: dict[int, dict[bool, int]] = defaultdict(lambda: {True: 0, False: 0})
    ids = [row["id"] for row in rows]
    campaign_ids = sorted({row["campaign_id"] for row in rows})
    if ids:
        unsent = case((attempts.c.sent_at.is_(None), True), else_=False)
        counted = connection.execute(
            select(attempts.c.worker_id, unsent, func.count())
            .where(
                attempts.c.campaign_id.in_(campaign_ids),
                attempts.c.outcome.is_(None),
                attempts.c.worker_id.in_(ids),
            )
            .group_by(attempts.c.worker_id, unsent)
        )
        for worker_id, is_unsent, count in counted:
            held[worker_id][bool(is_unsent)] = count
    return [_view(row, now, identity, held[row["id"]]) for row in rows]


def _view(row: RowMapping, now: datetime, identity: Identity, held: dict[bool, int]) -> WorkerView:
    state, reason = "live", None
    if row["stopped_at"] is not None:
        state, reason = "stopped", row["stop_reason"]
    elif row["lease_expires_at"] <= now:
        state, reason = "dead", "its lease expired (no heartbeat)"
    elif identity.sees_pids_of(row["pid_space"]) and not process_exists(row["pid"]):
        state, reason = "dead", "its process is gone"
    return WorkerView(
        id=row["id"],
        campaign=row["name"],
        host=row["host"],
        pid=row["pid"],
        state=state,
        started_at=row["started_at"],
        heartbeat_at=row["heartbeat_at"],
        lease_expires_at=row["lease_expires_at"],
        stopped_at=row["stopped_at"],
        reason=reason,
        claimed=held[True],
        calls=held[False],
    )


__all__ = [
    "Heartbeat",
    "Identity",
    "Reaped",
    "WorkerView",
    "forget_slots",
    "heartbeat",
    "list_workers",
    "mark_sent",
    "owned",
    "process_exists",
    "register",
    "reserve_slots",
    "stop",
]
