"""The second process of a SQLite CSV export (see `sqlite_csv`).

`python -m campaigner.reports.sqlite_lines DATABASE` runs the one statement it reads on stdin
against the SQLite file DATABASE, read-only, and writes the single text column of each row to
stdout as it is; then the number of rows to stderr. Only the standard library and the SQLite
driver (`sqlite_driver`), so that it starts in milliseconds, not the second that campaigner's own
imports take.
"""

from __future__ import annotations

import sys

from ..sqlite_driver import driver

FETCH = 5_000
BUSY_TIMEOUT_S = 30.0


def main() -> None:
    statement = sys.stdin.read()
    connection = driver.connect(sys.argv[1], timeout=BUSY_TIMEOUT_S)
    try:
        connection.execute("PRAGMA query_only = ON")
        cursor = connection.execute(statement)
        count = 0
        with open(sys.stdout.fileno(), "w", encoding="utf-8", newline="", closefd=False) as out:
            while batch := cursor.fetchmany(FETCH):
                out.writelines([row[0] for row in batch])
                count += len(batch)
    finally:
        connection.close()
    sys.stderr.write(f"{count}\n")


if __name__ == "__main__":
    main()
