"""The second process of a SQLite CSV export (see `sqlite_csv`).

`python -m campaigner.reports.sqlite_lines DATABASE` runs the one statement it reads on stdin
against the SQLite file DATABASE, read-only, and writes the single text column of each row to
stdout as it is; then the number of rows to stderr. Only the standard library and the SQLite
driver (`sqlite_driver`), so that it starts in milliseconds, not the second that campaigner's own
imports take.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from typing import Any

from ..sqlite_driver import driver

FETCH = 5_000
BUSY_TIMEOUT_S = 30.0


def reader(path: str) -> Any:
    """A read-only connection of its own to the SQLite file `path`, for one half's statement.

    The first half is read on one too: on campaigner's own connection the same statement took
    ~13% more CPU (4.1 against 3.6 CPU-s for half a million contacts, in the same process). The
    prepared statements its driver keeps hold all of the connection's lookaside slots (SQLite's
    own pool for small allocations), so the statement's allocations went to malloc, five times
    as many (sqlite3_db_status); a fresh connection that had prepared 120 other statements first
    took as many instructions."""
    connection = driver.connect(path, timeout=BUSY_TIMEOUT_S)
    connection.execute("PRAGMA query_only = ON")
    return connection


def write_lines(connection: Any, statement: str, write: Callable[[bytes], object]) -> int:
    """Hand the single text column of each row of `statement` to `write`, as UTF-8 bytes, a
    batch of lines at a time; how many rows.

    The lines are fetched as bytes, as SQLite holds them, not decoded to `str` and encoded
    again, and written a batch (~1.7 MB for 5,000 contacts) a call, not a line. The cyclic
    garbage collector is off meanwhile: each row is a new tuple, which it would walk every 700
    allocations for nothing (the rows hold only bytes)."""
    factory = connection.text_factory
    connection.text_factory = bytes
    collecting = gc.isenabled()
    gc.disable()
    try:
        cursor = connection.execute(statement)
        try:
            count = 0
            while batch := cursor.fetchmany(FETCH):
                write(b"".join([row[0] for row in batch]))
                count += len(batch)
        finally:
            cursor.close()
    finally:
        connection.text_factory = factory
        if collecting:
            gc.enable()
    return count


def main() -> None:
    statement = sys.stdin.read()
    connection = reader(sys.argv[1])
    try:
        with open(sys.stdout.fileno(), "wb", closefd=False) as out:
            count = write_lines(connection, statement, out.write)
    finally:
        connection.close()
    sys.stderr.write(f"{count}\n")


if __name__ == "__main__":
    main()
