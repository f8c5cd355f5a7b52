"""The SQLite driver: the engine uses it, and its bind limit is the one SQLite enforces."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from campaigner.config import parse_database_url
from campaigner.db import open_database
from campaigner.sqlite_driver import driver, variable_limit


def _binds(connection: Any, count: int) -> None:
    connection.execute(f"SELECT 1 WHERE 1 IN ({','.join('?' * count)})", [1] * count)


@pytest.mark.parametrize("module", [driver, sqlite3], ids=["campaigner's driver", "sqlite3"])
def test_variable_limit_is_the_most_one_statement_binds(module: Any) -> None:
    connection = module.connect(":memory:")
    try:
        most = variable_limit(connection)
        _binds(connection, most)
        with pytest.raises(module.OperationalError, match="too many SQL variables"):
            _binds(connection, most + 1)
    finally:
        connection.close()


def test_the_engine_connects_through_the_driver(tmp_path: Path) -> None:
    database = open_database(parse_database_url(str(tmp_path / "driver.db")))
    try:
        with database.read() as connection:
            version = connection.exec_driver_sql("SELECT sqlite_version()").scalar_one()
        assert database.engine.dialect.dbapi is driver
        assert version == driver.sqlite_version
    finally:
        database.dispose()
