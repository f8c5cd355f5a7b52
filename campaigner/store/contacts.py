"""Contacts: loading an import's rows into a campaign in bulk, and counting them.

`ContactLoader` takes one batch of validated rows at a time. Each batch goes into a temporary
staging table (`bulk_insert`: COPY on PostgreSQL, multi-row INSERTs on SQLite), and one
`INSERT ... SELECT` moves into `contacts` the rows whose number the campaign does not have yet.
The (campaign_id, phone) index is what finds duplicates against earlier batches and imports, so
the importer never holds the file's numbers in memory; a batch's own repeats are found as it
arrives. The same statement marks numbers on the do-not-call list `suppressed` (`finish` then takes
their due time off: they are never dialled).

The statement skips known numbers with ON CONFLICT DO NOTHING on SQLite, and with NOT EXISTS on
PostgreSQL, where ON CONFLICT's speculative insertion cost a third more per row. Nothing else
inserts contacts, and imports into one campaign take turns (an advisory lock on PostgreSQL; SQLite
has one writer at a time anyway), so no one can add a number between the look-up and the insert;
the unique constraint stays the last word.

Everything happens inside the caller's transaction: an import that fails leaves nothing behind.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from itertools import chain
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    Table,
    Text,
    case,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import sqlite

from ..db.schema import JSONDocument, UTCDateTime, contacts, suppressions
from ..model import ContactState

SQLITE_IMPORT_CACHE_KIB = 64 * 1024
_LOOKUP_CHUNK = 500  # numbers per IN (...): well under both backends' limits on parameters
_LOCK_NAMESPACE = "campaigner.import"  # advisory locks: (hash of this, campaign id)
_POSTGRES_SETTINGS = (
    "jit",
    "enable_hashjoin",
    "enable_mergejoin",
    "enable_bitmapscan",
    "enable_seqscan",
)

NewContact = tuple[int, str, str, str, str, str]
"""A row to load: (source row, phone in E.164, phone as written, the other columns as a JSON
object, IANA time zone, `TimezoneSource`)."""

_STAGING_COLUMNS = ("source_row", "phone", "phone_raw", "fields", "timezone", "timezone_source")


def _staging_table(keyed: bool) -> Table:
    """The temporary table a batch is loaded into before it is moved into `contacts`.

    Keyed by source_row on SQLite, where that makes it the rowid: the batch comes out in file order
    without a sort. On PostgreSQL a key would be one more index to maintain for every row; sorting
    a batch costs less.
    """
    return Table(
        "campaigner_import_staging",
        MetaData(),
        Column("source_row", Integer, primary_key=keyed, autoincrement=False, nullable=False),
        Column("phone", Text, nullable=False),
        Column("phone_raw", Text, nullable=False),
        Column("fields", JSONDocument, nullable=False),
        Column("timezone", Text, nullable=False),
        Column("timezone_source", Text, nullable=False),
        prefixes=["TEMPORARY"],
    )


_STAGING = {"sqlite": _staging_table(keyed=True), "postgresql": _staging_table(keyed=False)}


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
        self._staging = _STAGING[connection.dialect.name]
        self._move = self._move_statement(now)
        self.inserted = 0  # contacts added so far, pending or suppressed

    def load(self, batch: Sequence[NewContact]) -> list[Duplicate]:
        """Add `batch` (rows in file order) to the campaign; returns the duplicates, in row order.

        Every other row of the batch is now a contact, pending or suppressed.
        """
        first_rows: dict[str, int] = {}
        unique: list[NewContact] = []
        repeats: list[Duplicate] = []
        for row in batch:
            first = first_rows.setdefault(row[1], row[0])
            if first == row[0]:
                unique.append(row)
            else:
                repeats.append(Duplicate(row[0], self._import_id, first))
        if not unique:
            return repeats
        self._stage(unique)
        inserted = set(self._connection.execute(self._move).scalars().all())
        self.inserted += len(inserted)
        known = self._duplicates([row for row in unique if row[0] not in inserted])
        return sorted(known + repeats, key=lambda duplicate: duplicate.source_row)

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
            f"TRUNCATE {self._staging.name}"
            if self._postgres
            else f"DELETE FROM {self._staging.name}"
        )
        bulk_insert(self._connection, self._staging, _STAGING_COLUMNS, batch)

    def _move_statement(self, now: datetime) -> Any:
        """INSERT ... SELECT from the staging table, skipping numbers the campaign already has;
        returns the source rows it inserted.

        Every new contact is due now; `finish` takes the due time off the suppressed ones, which
        costs one statement instead of a second look-up in the do-not-call list for every row.
        """
        staged = self._staging.c
        on_list = exists().where(
            suppressions.c.phone == staged.phone,
            or_(
                suppressions.c.campaign_id.is_(None),
                suppressions.c.campaign_id == self._campaign_id,
            ),
        )
        at = literal(now, UTCDateTime())
        rows = select(
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
        ).order_by(staged.source_row)
        columns = [
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
        ]
        if self._postgres:
            known = exists().where(
                contacts.c.campaign_id == self._campaign_id, contacts.c.phone == staged.phone
            )
            statement: Any = insert(contacts).from_select(columns, rows.where(~known))
        else:
            statement = (
                sqlite.insert(contacts)
                # SQLite needs a WHERE to tell ON CONFLICT from the ON of a join
                .from_select(columns, rows.where(true()))
                .on_conflict_do_nothing(index_elements=["campaign_id", "phone"])
            )
        return statement.returning(contacts.c.source_row)

    def _duplicates(self, rows: Sequence[NewContact]) -> list[Duplicate]:
        """Where the numbers of `rows`, which the campaign already had, came from."""
        found: dict[str, tuple[int | None, int | None]] = {}
        phones = [row[1] for row in rows]
        for start in range(0, len(phones), _LOOKUP_CHUNK):
            query = select(contacts.c.phone, contacts.c.import_id, contacts.c.source_row).where(
                contacts.c.campaign_id == self._campaign_id,
                contacts.c.phone.in_(phones[start : start + _LOOKUP_CHUNK]),
            )
            found.update(
                (phone, (import_id, row))
                for phone, import_id, row in self._connection.execute(query)
            )
        missing = [row[0] for row in rows if row[1] not in found]
        if missing:
            raise AssertionError(f"import #{self._import_id}: rows {missing} were not inserted")
        return [Duplicate(row[0], *found[row[1]]) for row in rows]


def bulk_insert(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Insert `rows` (values in the order of `columns`) in as few statements as the backend allows.

    PostgreSQL: COPY. SQLite: multi-row INSERT ... VALUES of up to 1,024 rows, in chunks whose sizes
    are powers of two (see `_insert_values`). Not `executemany`: it lets go of the GIL and takes it
    back for every row, and each time another busy thread (the importer's reading thread always is)
    can keep it for the 5 ms switch interval; 10,000 rows then take seconds instead of milliseconds.
    """
    names = ", ".join(columns)
    driver: Any = connection.connection.driver_connection
    with closing(driver.cursor()) as cursor:
        if connection.dialect.name == "postgresql":
            with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        size = _sqlite_rows_per_insert(driver, len(columns))
        start = 0
        while start < len(rows):
            while size > len(rows) - start:
                size //= 2
            cursor.execute(
                _insert_values(table.name, names, len(columns), size),
                list(chain.from_iterable(rows[start : start + size])),
            )
            start += size


def _sqlite_rows_per_insert(driver: Any, columns: int) -> int:
    """The largest power of two of rows (at most 1024) whose values SQLite can bind at once."""
    most = min(1024, driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // columns)
    return int(1 << (most.bit_length() - 1))


@lru_cache(maxsize=64)
def _insert_values(table: str, names: str, columns: int, rows: int) -> str:
    """INSERT with `rows` rows of placeholders. Only powers of two are asked for, so a handful of
    statements serve every batch, and SQLite compiles each once (the driver caches them)."""
    one_row = "(" + ", ".join("?" * columns) + ")"
    return f"INSERT INTO {table} ({names}) VALUES " + ", ".join([one_row] * rows)


@contextmanager
def contact_loader(
    connection: Connection, campaign_id: int, import_id: int, now: datetime
) -> Iterator[ContactLoader]:
    """A `ContactLoader` with its staging table and bulk-loading settings, undone at the end.

    PostgreSQL, to the end of the transaction: the campaign's import lock (see the module
    docstring), no JIT compilation (it costs more than it saves on these short statements), and
    index look-ups only (`_POSTGRES_SETTINGS`). The planner's
    statistics know nothing of the rows this transaction has added: left to itself, it hash-joins
    each batch with every contact of the campaign, and an import becomes quadratic in its length.
    Every statement of an import is best served by the (campaign_id, phone) index.
    SQLite: a page cache of SQLITE_IMPORT_CACHE_KIB, so that index pages are not spilled to the
    WAL and read back again and again while the transaction grows.
    """
    driver: Any = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        connection.execute(
            select(func.pg_advisory_xact_lock(func.hashtext(_LOCK_NAMESPACE), campaign_id))
        )
        for setting in _POSTGRES_SETTINGS:
            connection.exec_driver_sql(f"SET LOCAL {setting} = off")
        cache = None
    else:
        cache = driver.execute("PRAGMA cache_size").fetchone()[0]
        driver.execute(f"PRAGMA cache_size = -{SQLITE_IMPORT_CACHE_KIB}")
    try:
        staging = _STAGING[connection.dialect.name]
        staging.create(connection)
        yield ContactLoader(connection, campaign_id, import_id, now)
        staging.drop(connection)
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
