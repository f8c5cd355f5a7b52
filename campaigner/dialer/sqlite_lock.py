"""A SQLite database has one dialer: `campaigner run` holds an OS lock on a file beside it.

Two dialers on one SQLite file would each take the other's claims for a dead run's (SQLite keeps
no separate record of what was sent), so the second refuses, or waits with `--wait`. The lock is
`flock` on `<database>.dialer-lock`: the kernel releases it when the process ends, however it
ends, so a killed run never leaves it stale. The file itself stays (deleting a lock file races
with the next process opening it); it holds the pid and host of the run that has the lock, for
the message. PostgreSQL needs no such lock: its workers share a campaign (see `store.workers`).
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..db import Database
from ..errors import CampaignerError


class DialerBusy(CampaignerError):
    """Another `campaigner run` is dialing from this SQLite database."""

    exit_code = 75  # EX_TEMPFAIL: run again later, as for work left for later


def lock_path(database: Database) -> str | None:
    """The lock file of a SQLite database file; None for PostgreSQL or an in-memory database."""
    path = database.url.database
    if not database.is_sqlite or not path or path == ":memory:":
        return None
    return f"{path}.dialer-lock"


@contextmanager
def sole_dialer(
    database: Database, *, wait: bool, on_wait: Callable[[str], None]
) -> Iterator[None]:
    """Hold the database's dialer lock for the block; without `wait`, refuse if another run
    has it (`DialerBusy`), else wait for it, saying so once through `on_wait`."""
    path = lock_path(database)
    if path is None:
        yield
        return
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise DialerBusy(f"cannot open the dialer lock {path}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(descriptor)
            if not wait:
                raise DialerBusy(
                    f"another `campaigner run` ({holder}) is dialing from {database.url.database}:"
                    " a SQLite database has one dialer at a time; let it finish, run with --wait"
                    " to start when it does, or use PostgreSQL to run several workers"
                ) from None
            on_wait(f"waiting for the other `campaigner run` ({holder}) on this database to end")
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _holder(descriptor: int) -> str:
    text = os.pread(descriptor, 200, 0).decode(errors="replace").strip()
    return text or "starting"
