"""Connecting to the database, with the per-backend settings campaigner relies on.

SQLite is reached through `sqlite_driver` (sqlean.py: Python's module with a recent SQLite).

SQLite runs in WAL mode (readers never wait for the writer) with foreign keys on. A new database
file gets pages of SQLITE_PAGE_SIZE bytes (a page size is fixed once the file has content, so an
existing file keeps its own). pysqlite's own
transaction handling is switched off so that SQLAlchemy's `begin()` really begins: a read
transaction is a plain deferred BEGIN, a write transaction (`Database.write()`) is
`BEGIN IMMEDIATE`, which takes the write lock up front instead of failing half-way with
"database is locked" when two processes race.

Writers of one process take turns on a lock of their own before BEGIN IMMEDIATE (SQLite only). A
writer that finds SQLite's lock taken is left to SQLite's busy handler, which sleeps between
tries (1, 2, 5 ... up to 100 ms) without noticing the lock come free, so the dialer's claims and
the receiver's batches, in two threads, lost tens of milliseconds waiting for each other's short
transactions. A thread waiting on the process's lock is woken as soon as it is released.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError

from .. import sqlite_driver
from ..errors import DatabaseError

# How long a SQLite writer waits for another writer before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Twice SQLite's default: a million-row import took ~10% less of the writer's CPU and half the
# checkpoint at its commit (benchmarks/RESULTS.md). Larger pages saved little more, and every
# small transaction (the dialer's) writes whole pages to the WAL.
SQLITE_PAGE_SIZE = 8192
_WRITE_OPTION = "campaigner_write"


@dataclass(frozen=True)
class Database:
    engine: Engine
    # Held by this process's SQLite writer (see the module docstring); reentrant, so that a write
    # nested in another fails on SQLite's own lock as before instead of hanging here.
    _writing: threading.RLock = field(default_factory=threading.RLock, compare=False, repr=False)

    @property
    def url(self) -> URL:
        return self.engine.url

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def display_url(self) -> str:
        """The URL with any password hidden, for messages."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A transaction for reading."""
        with self.engine.connect() as connection, connection.begin():
            yield connection

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction for writing: committed at the end of the block, rolled back on error."""
        turn = self._writing if self.is_sqlite else nullcontext()
        with turn, self.engine.connect() as connection:
            connection = connection.execution_options(**{_WRITE_OPTION: True})
            with connection.begin():
                yield connection

    def dispose(self) -> None:
        self.engine.dispose()


def create_database_engine(url: URL, **engine_options: Any) -> Engine:
    """An engine for `url`, set up as described in the module docstring; connects lazily."""
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, module=sqlite_driver.driver, **engine_options)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    engine_options.setdefault("pool_pre_ping", True)
    return create_engine(url, **engine_options)


def open_database(url: URL, *, check: bool = True, **engine_options: Any) -> Database:
    """Connect to `url` and, unless told not to, check its schema (see `check_schema`)."""
    from .migrate import check_schema

    database = Database(create_database_engine(url, **engine_options))
    try:
        with database.engine.connect():
            pass
    except OperationalError as exc:
        database.dispose()
        reason = " ".join(str(exc.orig or exc).split())  # one line, whatever the driver printed
        raise DatabaseError(f"cannot open database {database.display_url}: {reason}") from None
    if check:
        try:
            check_schema(database)
        except BaseException:
            database.dispose()
            raise
    return database


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see _sqlite_on_begin)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA page_size = {SQLITE_PAGE_SIZE}")  # before WAL, which fixes it
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    write = connection.get_execution_options().get(_WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
