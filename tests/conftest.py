"""Fixtures shared by every test.

Database tests take `database` (or `database_url`, or `empty_database_url`), which is parametrised
over SQLite and PostgreSQL: every such test runs on both. Each test gets a database of its own:
a copy of a SQLite file migrated once per session, or a PostgreSQL database created from a template
database migrated once per session (`CREATE DATABASE ... TEMPLATE` takes milliseconds).

PostgreSQL is found at CAMPAIGNER_TEST_PG_URL, else at postgresql://postgres@127.0.0.1:5432/postgres.
When the variable is not set and no server answers there, the PostgreSQL half is skipped with a
reason; when the variable is set and the server does not answer, the tests fail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from campaigner.config import ENVIRONMENT_VARIABLES, parse_database_url
from campaigner.db import Database, open_database, upgrade

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's campaigner settings, and each runs in an empty directory."""
    for variable in ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)


class PostgresServer:
    """Creates and drops the test databases on one PostgreSQL server."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.template: str | None = None

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.admin_url, autocommit=True)

    def url_for(self, name: str) -> URL:
        return parse_database_url(self.admin_url).set(database=name)

    def create(self, name: str, template: str | None = None) -> URL:
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with self._admin() as connection:
            connection.execute(query)
        return self.url_for(name)

    def drop(self, name: str) -> None:
        with self._admin() as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    configured = os.environ.get("CAMPAIGNER_TEST_PG_URL")
    admin_url = configured or DEFAULT_PG_URL
    try:
        psycopg.connect(admin_url, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        where = make_url(admin_url).render_as_string(hide_password=True)
        if configured:
            pytest.fail(f"CAMPAIGNER_TEST_PG_URL={where} does not answer: {exc}")
        pytest.skip(
            f"PostgreSQL tests skipped: no server answers at {where} and CAMPAIGNER_TEST_PG_URL "
            "is not set"
        )
    server = PostgresServer(admin_url)
    template = f"campaigner_test_template_{uuid.uuid4().hex[:8]}"
    database = open_database(server.create(template), check=False)
    try:
        upgrade(database)
    finally:
        database.dispose()
    server.template = template
    yield server
    server.drop(template)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    database = open_database(parse_database_url(str(path)))
    database.dispose()
    return path


def _fresh_database(
    request: pytest.FixtureRequest, tmp_path: Path, *, migrated: bool
) -> Iterator[URL]:
    backend = request.param
    if backend == "sqlite":
        path = tmp_path / "test.db"
        if migrated:
            shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield parse_database_url(str(path))
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"campaigner_test_{uuid.uuid4().hex[:12]}"
    url = server.create(name, template=server.template if migrated else None)
    try:
        yield url
    finally:
        server.drop(name)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[URL]:
    """The URL of a fresh database migrated to the latest schema, on each backend."""
    yield from _fresh_database(request, tmp_path, migrated=True)


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[URL]:
    """The URL of a fresh database with no schema at all, on each backend."""
    yield from _fresh_database(request, tmp_path, migrated=False)


@pytest.fixture
def database(database_url: URL) -> Iterator[Database]:
    """A fresh, migrated database, opened, on each backend."""
    opened = open_database(database_url)
    yield opened
    opened.dispose()


_BACKEND_OF_TEST: dict[str, str] = {}
_BACKEND_OUTCOMES: dict[str, dict[str, int]] = {backend: {} for backend in BACKENDS}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Note which backend each database test runs on, for the summary below."""
    for item in items:
        params = getattr(item, "callspec", None)
        for name in ("database_url", "empty_database_url"):
            if params is not None and name in params.params:
                _BACKEND_OF_TEST[item.nodeid] = params.params[name]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    backend = _BACKEND_OF_TEST.get(report.nodeid)
    if backend and (report.when == "call" or (report.when == "setup" and not report.passed)):
        outcomes = _BACKEND_OUTCOMES[backend]
        outcomes[report.outcome] = outcomes.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say how many database tests ran on each backend: a skipped PostgreSQL half must show."""
    terminalreporter.section("database tests by backend")
    for backend, outcomes in _BACKEND_OUTCOMES.items():
        counted = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
        terminalreporter.write_line(f"{backend}: {counted or 'none ran'}")
