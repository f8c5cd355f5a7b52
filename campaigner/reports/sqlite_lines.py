"""The second process of a SQLite CSV export (see `sqlite_csv`).

`python -m campaigner.reports.sqlite_lines DATABASE` runs the one statement it reads on stdin
against the SQLite file DATABASE, read-only, and writes the single text column of each row to
stdout as it is; then the number of rows to stderr. Only the standard library and the SQLite
driver (`sqlite_driver`), so that it starts in milliseconds, not the second that campaigner's own
imports take.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from ..sqlite_driver import driver

FETCH = 5_000
BUSY_TIMEOUT_S = 30.0


def reader(path: str) -> Any:
    """A read-only connection of its own to the SQLite file `path`, for one half's statement.

    The first half is read on one too: on campaigner's own connection (its pragmas set, in a
    transaction) the same statement took ~13% more CPU (4.1 against 3.6 CPU-s for half a million
    contacts, in the same process), for a reason not found yet."""
    connection = driver.connect(path, timeout=BUSY_TIMEOUT_S)
    connection.execute("PRAGMA query_only = ON")
    return connection


def write_lines(connection: Any, statement: str, out: TextIO) -> int:
    """Write the single text column of each row of `statement` to `out`; how many rows."""
    cursor = connection.execute(statement)
    try:
        count = 0
        write = out.writelines
        while batch := cursor.fetchmany(FETCH):
            write([row[0] for row in batch])
            count += len(batch)
    finally:
        cursor.close()
    return count


def main() -> None:
    statement = sys.stdin.read()
    connection = reader(sys.argv[1])
    try:
        with open(sys.stdout.fileno(), "w", encoding="utf-8", newline="", closefd=False) as out:
            count = write_lines(connection, statement, out)
    finally:
        connection.close()
    sys.stderr.write(f"{count}\n")


if __name__ == "__main__":
    main()
