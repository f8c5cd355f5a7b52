"""Contacts: loading an import's rows into a campaign in bulk, and counting them.

`ContactLoader` takes one batch of validated rows at a time and writes its new contacts straight
into `contacts`, once (`bulk_insert`: COPY on PostgreSQL, multi-row INSERTs on SQLite). Before the
write, two look-ups of the batch's numbers, one statement each whatever the batch's size: the
campaign's contacts that have them (through the unique (campaign_id, phone) index; earlier batches
of this import included), and their do-not-call entries (global or this campaign's), so that a
suppressed contact goes in suppressed and never due; only the numbers in a set of the list read at
the start are looked up there (`_Listed`). A batch's own repeats are found in
memory: the importer never holds more than a batch of numbers. Into a campaign that had no contacts,
the first look-up skips the numbers that `_LoadedNumbers` says this import has certainly not loaded:
nearly all of them, and each probe of the index costs the database ~2 µs.

Nothing else inserts contacts, and imports into one campaign take turns (an advisory lock on
PostgreSQL; SQLite has one writer at a time anyway), so no one can add a number between the look-up
and the write. The unique constraint stays the last word: a row that breaks it fails the import,
it is never skipped silently.

On PostgreSQL each batch is copied in phone order, so that the unique index's inserts walk its
pages in order instead of at random (~15% less of the server's CPU a row, benchmarks/RESULTS.md),
with ids taken from the table's sequence in file order: the ids still say in which order the
contacts were imported.

On PostgreSQL the statements run in a thread of the loader's own, in order, and the server is kept
busy: a batch's write (its ids and its COPY) and whatever the caller hands over after it with
`ContactLoader.then` are held until the next batch's look-ups are queued, then queued behind them.
The server copies one batch while the client sorts out the next (which of its numbers are new, its
phone order), instead of each waiting for the other. The next batch's look-ups run before the
previous batch is in the table, so they find its numbers in memory (`_unwritten`). Until `settle`
(or the end of `contact_loader`), the connection is the loader's.

Everything happens inside the caller's transaction: an import that fails leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from itertools import chain
from operator import add, itemgetter
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    Dialect,
    Executable,
    Integer,
    Select,
    Table,
    bindparam,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    true,
)

from ..db.schema import contacts, suppressions
from ..model import ContactState
from ..sqlite_driver import variable_limit
from .suppressions import last_suppression_id, suppressed_since

SQLITE_IMPORT_CACHE_KIB = 64 * 1024
# Up to this many do-not-call entries for a campaign (~10 MB), the loader holds them in a set and
# looks up only the numbers in it (`_Listed`).
LISTED_SET_ENTRIES = 100_000
_LOCK_NAMESPACE = "campaigner.import"  # advisory locks: (hash of this, campaign id)
# Turned off for the import's transaction; see `contact_loader`.
_POSTGRES_SETTINGS = ("jit", "enable_seqscan", "enable_bitmapscan", "synchronous_commit")

_T = TypeVar("_T")

NewContact = tuple[int, str, str, str, str | None, str, str]
"""A row to load: (source row, phone in E.164, phone as written, the other columns as a JSON
object and as CSV cells (`rowcheck.csv_cells`; None on PostgreSQL), IANA time zone,
`TimezoneSource`)."""

# The columns a contact is written with: a `NewContact`'s, then its state and when it is due.
_COLUMNS = (
    "source_row",
    "phone",
    "phone_raw",
    "fields",
    "fields_csv",
    "timezone",
    "timezone_source",
    "state",
    "next_attempt_at",
)
_NUMBERED_COLUMNS = ("id", *_COLUMNS)  # PostgreSQL: see `ContactLoader._copy_numbered`


# The numbers a look-up is for, as one parameter however many they are: a JSON array. (A batch could
# pass SQLite's limit on parameters; psycopg turns a list into an array at ~2 µs a number.)
_PHONES = bindparam("phones", type_=JSON())

# SQLite keeps the left table of a CROSS JOIN as the outer loop, whatever its statistics: one probe
# of the index on (..., phone) for each number. (`phone IN (SELECT ...)` sorts the numbers into a
# temporary index first, which costs more than the probes.)
_SQLITE_KNOWN = text(
    "SELECT contacts.phone, contacts.import_id, contacts.source_row"
    " FROM json_each(:phones) AS numbers CROSS JOIN contacts"
    " WHERE contacts.campaign_id = :campaign_id AND contacts.phone = numbers.value"
).bindparams(_PHONES)
_SQLITE_LISTED = text(
    "SELECT suppressions.phone FROM json_each(:phones) AS numbers CROSS JOIN suppressions"
    " WHERE suppressions.phone = numbers.value"
    " AND (suppressions.campaign_id IS NULL OR suppressions.campaign_id = :campaign_id)"
).bindparams(_PHONES)


# Numbers already in the campaign: the import that brought each in and its row (None if unknown).
_Known = dict[str, tuple[int | None, int | None]]


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
        self._import_id = import_id
        self._known: Executable
        self._listed: Executable
        self._sequence: str | None = None  # PostgreSQL: the sequence that numbers contacts
        self._lane: ThreadPoolExecutor | None = None  # PostgreSQL: runs the look-ups and writes
        self._queued: Future[Any] | None = None  # the last task handed to the lane
        self._held: list[tuple[Callable[..., None], tuple[Any, ...]]] = []  # writes not yet queued
        # PostgreSQL: the numbers of the contacts whose write is held, with their rows: the next
        # batch's look-ups run before that write, so they find these numbers here.
        self._unwritten: dict[str, int] = {}
        scope = or_(  # a do-not-call entry for every campaign, or for this one
            suppressions.c.campaign_id.is_(None), suppressions.c.campaign_id == campaign_id
        )
        if connection.dialect.name == "postgresql":
            self._sequence = connection.execute(
                select(func.pg_get_serial_sequence(contacts.name, contacts.c.id.name))
            ).scalar_one()
            self._known = _lateral_probe(
                contacts.c.phone,
                (contacts.c.import_id, contacts.c.source_row),
                contacts.c.campaign_id == _opaque(campaign_id),
            )
            self._listed = _lateral_probe(suppressions.c.phone, (), scope)
            self._lane = ThreadPoolExecutor(max_workers=1, thread_name_prefix="contact-writes")
        else:
            self._known = _SQLITE_KNOWN.bindparams(campaign_id=campaign_id)
            self._listed = _SQLITE_LISTED.bindparams(campaign_id=campaign_id)
        self._loaded = None if _has_contacts(connection, campaign_id) else _LoadedNumbers()
        self._maybe_listed = _Listed.read(connection, campaign_id, scope)
        self._shared = _shared_values(connection, campaign_id, import_id, now)
        at = self._shared["created_at"]
        self._pending: tuple[Any, ...] = (ContactState.PENDING.value, at)  # due now
        self._suppressed: tuple[Any, ...] = (ContactState.SUPPRESSED.value, None)  # never due
        if self._sequence is not None:
            # COPY takes whole rows: each is built once, here in `load`, with the shared values
            # (SQLite binds those once per statement instead).
            shared = tuple(self._shared.values())
            self._pending += shared
            self._suppressed += shared
        self.imported = 0  # pending contacts added so far
        self.suppressed = 0  # contacts added suppressed: their number is on the do-not-call list

    def load(self, batch: Sequence[NewContact]) -> list[Duplicate]:
        """Add `batch` (rows in file order) to the campaign; returns the duplicates, in row order.

        Every other row of the batch is now a contact, pending or suppressed, or will be once the
        loader has settled (on PostgreSQL the write is held until the next batch's look-ups).
        """
        # Each number's first row: built from the end of the batch, so the earliest row wins.
        first_rows = {row[1]: row[0] for row in reversed(batch)}
        loaded = self._loaded
        maybe_known = list(first_rows) if loaded is None else loaded.maybe(first_rows)
        import_id, unwritten = self._import_id, self._unwritten
        known: _Known = {
            phone: (import_id, unwritten[phone]) for phone in maybe_known if phone in unwritten
        }
        if known:
            maybe_known = [phone for phone in maybe_known if phone not in known]
        known, listed = self._before_held_writes(self._look_ups, first_rows, maybe_known, known)
        duplicates: list[Duplicate] = []
        new: list[tuple[Any, ...]] = []
        pending, suppressed = self._pending, self._suppressed
        for row in batch:
            phone = row[1]
            first = first_rows[phone]
            if first != row[0]:
                duplicates.append(Duplicate(row[0], import_id, first))
            elif phone in known:
                duplicates.append(Duplicate(row[0], *known[phone]))
            else:
                new.append(row + (suppressed if phone in listed else pending))
        if self._sequence is None:
            self.then(bulk_insert, self._connection, contacts, _COLUMNS, new, self._shared)
        else:
            self.then(self._copy_numbered, *_by_phone(new))
            self._unwritten = {row[1]: row[0] for row in new}
        if loaded is not None:
            loaded.add(row[1] for row in new)
        self.imported += len(new) - len(listed)
        self.suppressed += len(listed)
        return duplicates

    def then(self, write: Callable[..., None], *args: Any) -> None:
        """Call `write(*args)` after the writes handed over so far: on PostgreSQL in the loader's
        thread, once the next batch's look-ups are under way or at `settle` (its error is raised
        by the next `load` or `settle`); at once on SQLite."""
        if self._lane is None:
            write(*args)
        else:
            self._held.append((write, args))

    def settle(self) -> None:
        """Wait for the writes handed over so far; raises the first that failed. The connection
        is the caller's again until the next `load` or `then`."""
        self._release()
        queued, self._queued = self._queued, None
        if queued is not None:
            queued.result()

    def close(self) -> None:
        """Stop the loader's thread once the task it is running is over; the writes waiting
        after it are dropped (`contact_loader` settles first unless its caller failed)."""
        self._held.clear()
        if self._lane is not None:
            self._lane.shutdown(wait=True, cancel_futures=True)

    def _before_held_writes(self, look_ups: Callable[..., _T], *args: Any) -> _T:
        """`look_ups(*args)`; on PostgreSQL in the loader's thread, after the writes queued but
        before those held, which are queued behind it: the server then writes the previous batch
        while this thread sorts out the current one."""
        if self._lane is None:
            return look_ups(*args)
        looked_up = self._queue(look_ups, *args)
        self._release()
        return looked_up.result()

    def _queue(self, task: Callable[..., _T], *args: Any) -> Future[_T]:
        assert self._lane is not None, "only PostgreSQL's loader queues tasks"
        future = self._lane.submit(_after, self._queued, task, *args)
        self._queued = future
        return future

    def _release(self) -> None:
        """Queue the writes held, in order; their numbers are then as good as in the table."""
        for write, args in self._held:
            self._queue(write, *args)
        self._held.clear()
        self._unwritten = {}

    def _look_ups(
        self,
        first_rows: dict[str, int],
        maybe_known: list[str],
        known: _Known,
    ) -> tuple[_Known, set[str]]:
        """`known` (numbers already in the campaign, with the import and row that brought them)
        with those of `maybe_known` found in the table, and the other numbers of the batch that
        are on the do-not-call list."""
        for phone, import_id, row in self._look_up(self._known, maybe_known):
            known[phone] = (import_id, row)
        unknown = [p for p in first_rows if p not in known]
        if self._maybe_listed is not None:
            unknown = self._maybe_listed.maybe(self._connection, unknown)
        listed = set(self._look_up(self._listed, unknown).scalars()) if unknown else set()
        return known, listed

    def _look_up(self, query: Executable, phones: list[str]) -> Any:
        return self._connection.execute(query, {_PHONES.key: phones})

    def _copy_numbered(self, positions: Sequence[int], by_phone: list[tuple[Any, ...]]) -> None:
        """Copy a batch's new contacts (their whole rows but the id) sorted by phone (`_by_phone`),
        with ids from the sequence in file order: the contact at `positions[i]` of the batch gets
        the batch's `positions[i]`-th id.

        The unique (campaign_id, phone) index then takes the batch's numbers in order, each insert
        next to the previous one; the primary key's inserts stay within the batch's few pages.
        """
        ids = self._next_ids(len(by_phone))
        numbered = list(map(add, zip(map(ids.__getitem__, positions)), by_phone))
        bulk_insert(self._connection, contacts, (*_NUMBERED_COLUMNS, *self._shared), numbered)

    def _next_ids(self, count: int) -> Sequence[int]:
        """`count` new ids, in increasing order. One row comes back: the range the ids make, and
        the ids themselves only if another session took some of the sequence's values meanwhile
        (fetching 10,000 rows instead cost the writer ~20 ms a batch)."""
        if not count:
            return []
        low, high, ids = self._connection.execute(
            _NEXT_IDS, {"sequence": self._sequence, "count": count}
        ).one()
        if ids is not None:
            return sorted(ids)
        return range(low, high + 1)


_PHONE = itemgetter(1)  # of a `NewContact`


def _by_phone(rows: list[tuple[Any, ...]]) -> tuple[list[int], list[tuple[Any, ...]]]:
    """Where each of `rows` goes in phone order (its position in `rows`), and the rows in that
    order. Done before the rows are handed to the loader's thread, whose every moment away from
    the server leaves the server waiting."""
    positions = sorted(range(len(rows)), key=list(map(_PHONE, rows)).__getitem__)
    return positions, list(map(rows.__getitem__, positions))


def _after(previous: Future[Any] | None, task: Callable[..., _T], *args: Any) -> _T:
    """Run `task(*args)` unless the task before it failed (that error stands for both)."""
    if previous is not None:
        previous.result()
    return task(*args)


class _Listed:
    """The do-not-call numbers that apply to a campaign, held in a set: only a number in it is
    looked up (the look-up cost ~1.3 µs a number of the PostgreSQL server; a set's ~0.1 µs).

    Entries added after the set was read (by another session: on SQLite the import holds the
    write lock) are read before each batch, by id, as the dialer does (`suppressed_since`), so a
    batch sees what a look-up of its own would have seen then; the one exception, on PostgreSQL,
    is an entry whose transaction commits after one that took a higher id (the dialer's check of
    entries added while it runs has the same blind spot). An entry removed meanwhile is found
    missing by the look-up.
    """

    def __init__(self, campaign_id: int, newest_id: int, phones: Iterable[str]) -> None:
        self._campaign_id = campaign_id
        self._newest_id = newest_id
        self._phones = set(phones)

    @classmethod
    def read(
        cls, connection: Connection, campaign_id: int, scope: ColumnElement[bool]
    ) -> _Listed | None:
        """The campaign's entries; None if there are more than LISTED_SET_ENTRIES (then every
        number is looked up)."""
        newest_id = last_suppression_id(connection)
        phones = (
            connection.execute(
                select(suppressions.c.phone).where(scope).limit(LISTED_SET_ENTRIES + 1)
            )
            .scalars()
            .all()
        )
        if len(phones) > LISTED_SET_ENTRIES:
            return None
        return cls(campaign_id, newest_id, phones)

    def maybe(self, connection: Connection, phones: list[str]) -> list[str]:
        """Those of `phones` that may be listed, entries added since the last call included."""
        self._newest_id, added = suppressed_since(connection, self._campaign_id, self._newest_id)
        listed = self._phones
        listed.update(added)
        return [phone for phone in phones if phone in listed]


_NEXT_IDS = text(
    "SELECT min(id), max(id), CASE WHEN max(id) - min(id) + 1 <> count(*) THEN array_agg(id) END"
    " FROM (SELECT nextval(CAST(:sequence AS regclass)) AS id"
    " FROM generate_series(1, :count)) AS taken"
)


class _LoadedNumbers:
    """The numbers an import has loaded, one bit each in a table of fixed size (2 MiB) indexed by
    the number's hash: a clear bit means the number was certainly not loaded; a set bit, that it
    may have been (after a million numbers, one number in seventeen that was not loaded looks
    loaded, and is looked up for nothing). ~0.3 µs a number in Python."""

    BITS = 1 << 24

    def __init__(self) -> None:
        self._bits = bytearray(self.BITS // 8)

    def maybe(self, phones: Iterable[str]) -> list[str]:
        """Those of `phones` that may have been loaded."""
        bits, mask = self._bits, self.BITS - 1
        return [p for p in phones if bits[(h := hash(p) & mask) >> 3] >> (h & 7) & 1]

    def add(self, phones: Iterable[str]) -> None:
        bits, mask = self._bits, self.BITS - 1
        for phone in phones:
            h = hash(phone) & mask
            bits[h >> 3] |= 1 << (h & 7)


def _has_contacts(connection: Connection, campaign_id: int) -> bool:
    return bool(
        connection.execute(select(exists().where(contacts.c.campaign_id == campaign_id))).scalar()
    )


def _lateral_probe(
    phone: ColumnElement[str], columns: Sequence[ColumnElement[Any]], condition: ColumnElement[bool]
) -> Select[Any]:
    """PostgreSQL: (phone, *columns) of the rows of `phone`'s table that have one of the numbers
    bound as `_PHONES` and meet `condition`.

    A LATERAL subquery with a LIMIT, which the planner never turns into a join: it runs once for
    each number, one probe of the index on (..., phone). Given `phone = ANY(:phones)` or a join
    instead, the planner may read the campaign's every contact for each batch (see `_opaque`).
    """
    numbers = func.json_array_elements_text(_PHONES).table_valued("value").render_derived("numbers")
    found = select(phone, *columns).where(phone == numbers.c.value, condition).limit(1)
    lateral = found.lateral("found")
    return select(*lateral.c).select_from(numbers).join(lateral, true())


def _opaque(campaign_id: int) -> Any:
    """The campaign's id as a sub-select, which PostgreSQL's planner cannot see into: it then plans
    for a campaign of average size.

    Given the id itself, the planner takes its statistics' word for the campaign's size, and they
    know nothing of the rows the import's own transaction adds. A new campaign looks empty, so
    reading all its contacts through the other index costs the same on paper as one probe of
    (campaign_id, phone), and the planner may pick it: every number of every batch then reads
    every contact loaded so far (benchmarks/RESULTS.md).
    """
    return select(literal(campaign_id, Integer())).scalar_subquery()


def _shared_values(
    connection: Connection, campaign_id: int, import_id: int, now: datetime
) -> dict[str, Any]:
    """The values every contact of the import is written with, as SQLAlchemy would hand them to
    the driver (times as text on SQLite)."""
    dialect = connection.dialect
    process = contacts.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    at = process(now) if process else now
    return {
        "campaign_id": campaign_id,
        "import_id": import_id,
        "attempts": 0,
        "created_at": at,
        "updated_at": at,
    }


def bulk_insert(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    shared: Mapping[str, Any] | None = None,
) -> None:
    """Insert `rows` (values in the order of `columns`) in as few statements as the backend allows;
    `shared` gives columns that have the same value in every row.

    PostgreSQL: COPY in binary format (`_copy`). SQLite: multi-row INSERT ... VALUES of up to 1,024
    rows, in chunks whose sizes are powers of two (see `_insert_values`), the shared values bound
    once per statement (binding a value costs SQLite a copy of it: ~40% of an import's INSERTs
    went to binding before). Not `executemany`: it lets go of the GIL and takes it back for every
    row, and each time another busy thread (the importer's reading thread always is) can keep it
    for the 5 ms switch interval; 10,000 rows then take seconds instead of milliseconds. JSON
    columns take JSON text on both.
    """
    shared = shared or {}
    driver: Any = connection.connection.driver_connection
    with closing(driver.cursor()) as cursor:
        if connection.dialect.name == "postgresql":
            _copy(cursor, table, columns, rows, shared, connection.dialect)
            return
        names = ", ".join((*columns, *shared))
        size = _sqlite_rows_per_insert(driver, len(columns), len(shared))
        start = 0
        while start < len(rows):
            while size > len(rows) - start:
                size //= 2
            cursor.execute(
                _insert_values(table.name, names, len(columns), len(shared), size),
                [*shared.values(), *chain.from_iterable(rows[start : start + size])],
            )
            start += size


def _copy(
    cursor: Any,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    shared: Mapping[str, Any],
    dialect: Dialect,
) -> None:
    """COPY in binary format, the columns' types taken from `table`: the server parses no text,
    which saves it ~2 µs a contact (three timestamps, mostly) against text COPY."""
    cursor.adapters.register_dumper(None, _jsonb_from_text())
    names = (*columns, *shared)
    types = [table.c[name].type.compile(dialect=dialect).lower() for name in names]
    same = tuple(shared.values())
    with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row((*row, *same) if same else row)


@lru_cache(maxsize=1)
def _jsonb_from_text() -> type[Any]:
    """A psycopg dumper of JSON text into binary jsonb (psycopg's own would turn the text into a
    JSON string). Made on first use: psycopg is only imported for PostgreSQL."""
    from psycopg import postgres
    from psycopg.adapt import Dumper
    from psycopg.pq import Format

    class JsonbFromText(Dumper):
        format = Format.BINARY
        oid = postgres.types["jsonb"].oid

        def dump(self, obj: str) -> bytes:
            return b"\x01" + obj.encode()  # jsonb's binary format: version 1, then the text

    return JsonbFromText


def _sqlite_rows_per_insert(driver: Any, columns: int, shared: int) -> int:
    """The largest power of two of rows (at most 1024) whose values SQLite can bind at once."""
    most = min(1024, (variable_limit(driver) - shared) // columns)
    return int(1 << (most.bit_length() - 1))


@lru_cache(maxsize=64)
def _insert_values(table: str, names: str, columns: int, shared: int, rows: int) -> str:
    """INSERT with `rows` rows of `columns` placeholders each, followed in every row by the same
    `shared` ones (numbered 1 to `shared`, bound once). Only powers of two are asked for, so a
    handful of statements serve every batch, and SQLite compiles each once (the driver caches them).

    OR FAIL: a row that breaks a constraint stops the statement with an error, as the default
    (ABORT) does, but the rows before it are not undone one by one; the error fails the caller's
    transaction anyway. Under ABORT, SQLite copied every page a multi-row INSERT changed to a
    statement journal first (a temporary file), in case it had to undo the statement: a
    1,000,000-row import wrote 5.8 GB to it, 16 times the size of the database it made."""
    same = [f"?{number}" for number in range(1, shared + 1)]
    values = (
        "(" + ", ".join([f"?{first + column}" for column in range(columns)] + same) + ")"
        for first in range(shared + 1, shared + 1 + columns * rows, columns)
    )
    return f"INSERT OR FAIL INTO {table} ({names}) VALUES " + ", ".join(values)


@contextmanager
def contact_loader(
    connection: Connection, campaign_id: int, import_id: int, now: datetime
) -> Iterator[ContactLoader]:
    """A `ContactLoader` with the bulk-loading settings, undone at the end.

    PostgreSQL, to the end of the transaction: the campaign's import lock (see the module
    docstring), no JIT compilation (it costs more than it saves on these short statements), and
    index scans only (`_POSTGRES_SETTINGS`): the planner's statistics know nothing of the rows this
    transaction adds, and a table they call small is still read whole if it grew (see `_opaque`);
    and no waiting for the commit to reach the disk (`synchronous_commit`): a crash of the server
    in the moment after the commit could lose the import as a whole, never part of it, nor
    anything else, and the server's consistency is not at stake.
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
    loader = ContactLoader(connection, campaign_id, import_id, now)
    try:
        yield loader
        loader.settle()
    finally:
        loader.close()
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
