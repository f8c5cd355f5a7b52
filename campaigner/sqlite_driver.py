"""The SQLite driver campaigner uses: sqlean.py, Python's sqlite3 module with a recent SQLite.

Python's own `sqlite3` uses whatever SQLite the interpreter was built against (3.40 on Debian
12); sqlean.py carries SQLite 3.50 built into it, with wheels for Linux, macOS and Windows. The
newer engine runs campaigner's statements in markedly less CPU: the million-contact CSV export's
statement took 16% less (benchmarks/RESULTS.md). Both write the same file format.
(pysqlite3-binary's SQLite ran that statement faster still, but it is built to keep temporary
tables in memory whatever `PRAGMA temp_store` says, so a report's GROUP BY over a million contacts
grew the process by tens of megabytes.)

Only the standard library is imported here besides the driver, so that the second process of a
SQLite CSV export (`reports.sqlite_lines`) starts in milliseconds.
"""

from __future__ import annotations

from typing import Any

import sqlean as driver

__all__ = ["driver", "variable_limit"]

# SQLite's default SQLITE_MAX_VARIABLE_NUMBER since 3.32.0 (999 before it).
_DEFAULT_VARIABLES = 32_766
_OLD_DEFAULT_VARIABLES = 999


def variable_limit(connection: Any) -> int:
    """How many `?` one statement may bind on `connection` (a DB-API connection to SQLite): its
    library's compile-time limit, or SQLite's default for its version. (sqlean's module has no
    `getlimit`.)"""
    for (option,) in connection.execute("PRAGMA compile_options"):
        if option.startswith("MAX_VARIABLE_NUMBER="):
            return int(option.partition("=")[2])
    version = tuple(
        int(part) for part in connection.execute("SELECT sqlite_version()").fetchone()[0].split(".")
    )
    return _DEFAULT_VARIABLES if version >= (3, 32) else _OLD_DEFAULT_VARIABLES
