"""SQLite's page size: set on a new file, never changed on an existing one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from campaigner.config import parse_database_url
from campaigner.db import open_database, upgrade
from campaigner.db.engine import SQLITE_PAGE_SIZE


def page_size(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        size: int = connection.execute("PRAGMA page_size").fetchone()[0]
    connection.close()
    return size


def test_a_new_file_gets_the_larger_pages(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    database = open_database(parse_database_url(str(path)))
    database.dispose()
    assert SQLITE_PAGE_SIZE != 4096
    assert page_size(path) == SQLITE_PAGE_SIZE


def test_an_existing_file_keeps_its_pages(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA page_size = 4096")
        connection.execute("CREATE TABLE earlier (id INTEGER)")
    connection.close()
    database = open_database(parse_database_url(str(path)), check=False)
    try:
        upgrade(database)
    finally:
        database.dispose()
    assert page_size(path) == 4096
