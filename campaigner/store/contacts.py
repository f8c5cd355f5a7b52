"""Contacts: loading an import's rows into a campaign in bulk, and counting them.

`ContactLoader` takes one batch of validated rows at a time. Each batch goes into a temporary
staging table (`bulk_insert`: COPY on PostgreSQL, multi-row INSERTs on SQLite), and one
`INSERT ... SELECT ... ON CONFLICT DO NOTHING` moves it into `contacts`: the unique
(campaign_id, phone) constraint is what finds duplicates, within the file and against earlier
imports, so the importer never holds the file's numbers in memory. The same statement marks
numbers on the do-not-call list `suppressed` (`finish` then takes their due time off: they are
never dialled).

Everything happens inside the caller's transaction: an import that fails leaves nothing behind.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    Table,
    Text,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from ..db.schema import JSONDocument, UTCDateTime, contacts, suppressions
from ..model import ContactState

SQLITE_IMPORT_CACHE_KIB = 64 * 1024

NewContact = tuple[int, str, str, str, str, str]
"""A row to load: (source row, phone in E.164, phone as written, the other columns as a JSON
object, IANA time zone, `TimezoneSource`)."""

_STAGING_COLUMNS = ("source_row", "phone", "phone_raw", "fields", "timezone", "timezone_source")
_staging = Table(
    "campaigner_import_staging",
    MetaData(),
    Column("source_row", Integer, nullable=False),
    Column("phone", Text, nullable=False),
    Column("phone_raw", Text, nullable=False),
    Column("fields", JSONDocument, nullable=False),
    Column("timezone", Text, nullable=False),
    Column("timezone_source", Text, nullable=False),
    prefixes=["TEMPORARY"],
)


@dataclass(frozen=True)
class Duplicate:
    """A row whose number the campaign already has, and where that number came from."""

    source_row: int
    first_import_id: int | None  # the import that brought the number in; None if unknown
    first_row: int | None  # its row in that import's file


class ContactLoader:
    """Loads one import's contacts into a campaign, a batch at a time (see the module docstring)."""

    def __init__(
        self, connection: Connection, campaign_id: int, import_id: int, now: datetime
    ) -> None:
        self._connection = connection
        self._campaign_id = campaign_id
        self._import_id = import_id
        self._postgres = connection.dialect.name == "postgresql"
        self._driver: Any = connection.connection.driver_connection
        self._move = self._move_statement(now)
        self.inserted = 0

    def load(self, batch: Sequence[NewContact]) -> list[Duplicate]:
        """Add `batch` (rows in file order) to the campaign; returns the duplicates, in row order.

        Every other row of the batch is now a contact, pending or suppressed.
        """
        if not batch:
            return []
        self._stage(batch)
        inserted = self._connection.execute(self._move).rowcount
        self.inserted += inserted
        duplicates = self._duplicates() if inserted < len(batch) else []
        if inserted + len(duplicates) != len(batch):
            raise AssertionError(
                f"import #{self._import_id}: {len(batch)} rows staged but {inserted} "
                f"inserted and {len(duplicates)} duplicates"
            )
        return duplicates

    def finish(self) -> int:
        """Take the due time off the new suppressed contacts; returns how many there are."""
        return int(
            self._connection.execute(
                update(contacts)
                .where(
                    contacts.c.campaign_id == self._campaign_id,
                    contacts.c.state == ContactState.SUPPRESSED.value,
                    contacts.c.import_id == self._import_id,
                )
                .values(next_attempt_at=None)
            ).rowcount
        )

    def _stage(self, batch: Sequence[NewContact]) -> None:
        self._connection.exec_driver_sql(
            f"TRUNCATE {_staging.name}" if self._postgres else f"DELETE FROM {_staging.name}"
        )
        bulk_insert(self._connection, _staging, _STAGING_COLUMNS, batch)

    def _move_statement(self, now: datetime) -> Any:
        """INSERT ... SELECT from the staging table, skipping numbers the campaign already has.

        Every new contact is due now; `finish` takes the due time off the suppressed ones, which
        costs one statement instead of a second look-up in the do-not-call list for every row.
        """
        staged = _staging.c
        on_list = exists().where(
            suppressions.c.phone == staged.phone,
            or_(
                suppressions.c.campaign_id.is_(None),
                suppressions.c.campaign_id == self._campaign_id,
            ),
        )
        at = literal(now, UTCDateTime())
        rows = (
            select(
                literal(self._campaign_id, Integer()),
                staged.phone,
                staged.phone_raw,
                staged.fields,
                staged.timezone,
                staged.timezone_source,
                case(
                    (on_list, literal(ContactState.SUPPRESSED.value, Text())),
                    else_=literal(ContactState.PENDING.value, Text()),
                ),
                literal(0, Integer()),
                at,
                literal(self._import_id, Integer()),
                staged.source_row,
                at,
                at,
            )
            .where(true())  # SQLite needs a WHERE to tell ON CONFLICT from a join's ON
            .order_by(staged.source_row)
        )
        insert = postgresql.insert if self._postgres else sqlite.insert
        return (
            insert(contacts)
            .from_select(
                [
                    "campaign_id",
                    "phone",
                    "phone_raw",
                    "fields",
                    "timezone",
                    "timezone_source",
                    "state",
                    "attempts",
                    "next_attempt_at",
                    "import_id",
                    "source_row",
                    "created_at",
                    "updated_at",
                ],
                rows,
            )
            .on_conflict_do_nothing(index_elements=["campaign_id", "phone"])
            .execution_options(preserve_rowcount=True)  # an INSERT's rowcount is dropped otherwise
        )

    def _duplicates(self) -> list[Duplicate]:
        staged = _staging.c
        query = (
            select(staged.source_row, contacts.c.import_id, contacts.c.source_row)
            .join(
                contacts,
                and_(
                    contacts.c.campaign_id == self._campaign_id,
                    contacts.c.phone == staged.phone,
                ),
            )
            .where(
                or_(
                    contacts.c.import_id.is_distinct_from(self._import_id),
                    contacts.c.source_row.is_distinct_from(staged.source_row),
                )
            )
            .order_by(staged.source_row)
        )
        return [Duplicate(*row) for row in self._connection.execute(query)]


def bulk_insert(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Insert `rows` (values in the order of `columns`) in as few statements as the backend allows.

    PostgreSQL: COPY. SQLite: multi-row INSERT ... VALUES, as many rows per statement as its limit
    on bound parameters allows. Not `executemany`: it lets go of the GIL and takes it back for every
    row, and each time another busy thread (the importer's reading thread always is) can keep it
    for the 5 ms switch interval; 10,000 rows then take seconds instead of milliseconds.
    """
    names = ", ".join(columns)
    driver: Any = connection.connection.driver_connection
    with closing(driver.cursor()) as cursor:
        if connection.dialect.name == "postgresql":
            with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        per_statement = driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(columns)
        one_row = "(" + ", ".join("?" * len(columns)) + ")"
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            cursor.execute(
                f"INSERT INTO {table.name} ({names}) VALUES " + ", ".join([one_row] * len(chunk)),
                list(chain.from_iterable(chunk)),
            )


@contextmanager
def contact_loader(
    connection: Connection, campaign_id: int, import_id: int, now: datetime
) -> Iterator[ContactLoader]:
    """A `ContactLoader` with its staging table and bulk-loading settings, undone at the end.

    PostgreSQL: no JIT compilation (it costs more than it saves on these short statements).
    SQLite: a page cache of SQLITE_IMPORT_CACHE_KIB, so that index pages are not spilled to the
    WAL and read back again and again while the transaction grows.
    """
    driver: Any = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL jit = off")
        cache = None
    else:
        cache = driver.execute("PRAGMA cache_size").fetchone()[0]
        driver.execute(f"PRAGMA cache_size = -{SQLITE_IMPORT_CACHE_KIB}")
    try:
        _staging.create(connection)
        yield ContactLoader(connection, campaign_id, import_id, now)
        _staging.drop(connection)
    finally:
        if cache is not None:
            driver.execute(f"PRAGMA cache_size = {int(cache)}")


def count_by_state(connection: Connection, campaign_id: int) -> dict[ContactState, int]:
    """How many of the campaign's contacts are in each state (states with none are left out)."""
    rows = connection.execute(
        select(contacts.c.state, func.count())
        .where(contacts.c.campaign_id == campaign_id)
        .group_by(contacts.c.state)
    )
    return {ContactState(state): count for state, count in rows}
