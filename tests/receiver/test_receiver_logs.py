"""What the receiver's log lines may say about an error: never the webhook bodies it was storing."""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import OperationalError

from campaigner.receiver._log import describe_error


def test_a_database_error_is_described_without_the_statement_parameters() -> None:
    body = b'{"voice_id": "v-1", "to": "+12025550188"}'
    error = OperationalError(
        "INSERT INTO events (provider, body) VALUES (?, ?)",
        [("enablex", body)],
        sqlite3.OperationalError("no such table: events"),
    )
    assert "2025550188" in str(error)  # what SQLAlchemy itself would print
    assert describe_error(error) == "OperationalError: no such table: events"


def test_other_errors_fit_on_one_line() -> None:
    assert describe_error(ValueError("two\nlines")) == "ValueError: two lines"
