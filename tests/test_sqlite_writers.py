"""Writers of one process take turns on SQLite before BEGIN IMMEDIATE, not in its busy handler."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from campaigner.config import parse_database_url
from campaigner.db import open_database

WRITES = 200


def test_threads_writing_at_once_never_meet_sqlite_s_lock(tmp_path: Path) -> None:
    """With SQLite's busy timeout at zero, a writer that found the file locked would fail at
    once ("database is locked"): every write of two threads committing at the same time must
    get through, so they waited for each other before asking SQLite."""
    database = open_database(parse_database_url(str(tmp_path / "writers.db")), check=False)

    def no_busy_wait(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout = 0")

    event.listen(database.engine, "connect", no_busy_wait)
    database.dispose()  # the pooled connection was made without the listener
    with database.write() as connection:
        connection.execute(text("CREATE TABLE written (thread INTEGER, n INTEGER)"))
    failures: list[BaseException] = []
    start = threading.Barrier(2)

    def write(thread: int) -> None:
        start.wait()
        try:
            for n in range(WRITES):
                with database.write() as connection:
                    connection.execute(
                        text("INSERT INTO written VALUES (:thread, :n)"), {"thread": thread, "n": n}
                    )
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(t,)) for t in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert failures == []
        with database.read() as connection:
            assert connection.execute(text("SELECT count(*) FROM written")).scalar() == 2 * WRITES
    finally:
        database.dispose()
