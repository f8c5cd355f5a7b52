"""PostgreSQL's COPY reader (`reports.copy.copy_csv`, `copy_halves`): every row, in batches, and
connections left usable when the query fails part way or the output refuses the bytes."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from reports_helpers import make_campaign
from sqlalchemy import Connection, Integer, Select, case, func, insert, literal, select, text

from campaigner.db import Database
from campaigner.db.schema import contacts
from campaigner.reports import copy
from campaigner.reports.queries import middle_phone


def _contacts(database: Database, count: int) -> int:
    """A campaign of `count` pending contacts; its id."""
    campaign = make_campaign(database)
    now = datetime.now(UTC)
    with database.write() as connection:
        connection.execute(
            insert(contacts),
            [
                {
                    "campaign_id": campaign.id,
                    "phone": f"+1212555{n:04d}",
                    "phone_raw": f"+1212555{n:04d}",
                    "fields": {},
                    "timezone": "America/New_York",
                    "timezone_source": "default",
                    "state": "pending",
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(count)
            ],
        )
    return campaign.id


def _numbers(count: int, failing_at: int | None = None) -> Select[Any]:
    """1..count, one a row; with `failing_at`, a division by zero at that row."""
    number = func.generate_series(1, count, type_=Integer).column_valued("n")
    if failing_at is None:
        return select(number)
    return select(literal(1) // (number - failing_at) + number)


def _usable_after_rollback(connection: Connection) -> None:
    """The driver's connection is out of the COPY and takes the next statement."""
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    driver.rollback()
    assert driver.execute("SELECT 1").fetchone() == (1,)


@pytest.fixture
def postgresql(database: Database) -> Database:
    if database.is_sqlite:
        pytest.skip("COPY is PostgreSQL's")
    return database


def test_every_row_in_order_across_batches(postgresql: Database) -> None:
    count = copy.BATCH * 2 + 7
    out = io.StringIO()
    with postgresql.read() as connection:
        assert copy.copy_csv(connection, _numbers(count), out) == count
    assert out.getvalue() == "".join(f"{n}\n" for n in range(1, count + 1))


def test_a_query_failing_part_way_raises_and_the_connection_stays_usable(
    postgresql: Database,
) -> None:
    with postgresql.read() as connection:
        with pytest.raises(psycopg.errors.DivisionByZero):
            copy.copy_csv(connection, _numbers(5_000, failing_at=4_000), io.StringIO())
        _usable_after_rollback(connection)


class _Full(io.RawIOBase):
    """A file that takes nothing: every write fails, as on a full disk."""

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        raise OSError(28, "No space left on device")


def test_an_output_error_cancels_the_copy_and_the_connection_stays_usable(
    postgresql: Database,
) -> None:
    out = io.TextIOWrapper(io.BufferedWriter(_Full(), buffer_size=16), encoding="utf-8")
    with postgresql.read() as connection:
        with pytest.raises(OSError, match="No space"):
            copy.copy_csv(connection, _numbers(1_000_000), out)
        _usable_after_rollback(connection)


def test_the_middle_number_from_a_sample_is_the_median(postgresql: Database) -> None:
    """`middle_phone` from a sample of every page is the median, as from a count and an offset."""
    campaign = make_campaign(postgresql)
    phones = [f"+1212555{n:04d}" for n in range(301)]
    now = datetime.now(UTC)
    with postgresql.write() as connection:
        connection.execute(
            insert(contacts),
            [
                {
                    "campaign_id": campaign.id,
                    "phone": phone,
                    "phone_raw": phone,
                    "fields": {},
                    "timezone": "America/New_York",
                    "timezone_source": "default",
                    "state": "pending",
                    "created_at": now,
                    "updated_at": now,
                }
                for phone in reversed(phones)
            ],
        )
    with postgresql.read() as connection:
        sampled = middle_phone(connection, campaign.id, 1, sample_percent=100)
        exact = middle_phone(connection, campaign.id, 1, sample_percent=0)
    assert sampled == exact == phones[150]


def test_two_halves_read_at_once_write_every_row_in_order(postgresql: Database) -> None:
    campaign_id = _contacts(postgresql, 3 * copy.BATCH)
    query = select(contacts.c.phone).where(contacts.c.campaign_id == campaign_id)
    out = io.StringIO()
    with postgresql.read() as connection:
        assert copy.copy_halves(connection, campaign_id, query, out, split_from=1) == 3_000
    assert out.getvalue() == "".join(f"+1212555{n:04d}\n" for n in range(3_000))


@pytest.mark.parametrize("slow", ["first", "second"])
@pytest.mark.parametrize("into", ["file", "text"])
def test_halves_ending_in_either_order_write_every_row_in_order(
    postgresql: Database, tmp_path: Path, slow: str, into: str
) -> None:
    """Whichever half ends first: the second's rows, spilled until the first has ended and
    then written straight after it, follow it in order. The slow half's rows each count a
    series of their own in their filter (always true)."""
    campaign_id = _contacts(postgresql, 3 * copy.BATCH)
    with postgresql.read() as connection:
        middle = middle_phone(connection, campaign_id, 1)
    assert middle is not None
    in_slow_half = contacts.c.phone >= middle if slow == "second" else contacts.c.phone < middle
    series = func.generate_series(1, func.length(contacts.c.phone) * 200)  # 2,400, each row's
    work = select(func.count()).select_from(series).scalar_subquery()
    query = select(contacts.c.phone).where(
        contacts.c.campaign_id == campaign_id,
        case((in_slow_half, work), else_=2_400) == 2_400,
    )
    path = tmp_path / "halves.csv"
    text = io.StringIO()
    with path.open("w", encoding="utf-8", newline="") as file, postgresql.read() as connection:
        out = file if into == "file" else text
        assert copy.copy_halves(connection, campaign_id, query, out, split_from=1) == 3_000
    written = path.read_text(encoding="utf-8") if into == "file" else text.getvalue()
    assert written == "".join(f"+1212555{n:04d}\n" for n in range(3_000))


def test_an_output_error_stops_both_halves_and_their_copies(postgresql: Database) -> None:
    """The error leaves the two COPYs read at once in one thread; neither is left running."""
    campaign_id = _contacts(postgresql, 3 * copy.BATCH)
    query = select(contacts.c.phone).where(contacts.c.campaign_id == campaign_id)
    out = io.TextIOWrapper(io.BufferedWriter(_Full(), buffer_size=16), encoding="utf-8")
    with postgresql.read() as connection:
        with pytest.raises(OSError, match="No space"):
            copy.copy_halves(connection, campaign_id, query, out, split_from=1)
        copying = connection.execute(
            select(func.count())
            .select_from(text("pg_stat_activity"))
            .where(
                text(
                    "datname = current_database() AND query LIKE 'COPY%' AND state <> 'idle' "
                    "AND pid <> pg_backend_pid()"
                )
            )
        ).scalar_one()
    assert copying == 0
