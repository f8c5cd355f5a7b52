"""CSV straight from PostgreSQL: `COPY (SELECT ...) TO STDOUT WITH (FORMAT csv)`.

On PostgreSQL the server formats every cell (the contacts' cells are `cells.contact_cells`, the
same as SQLite's) and quotes the CSV itself; campaigner only passes the bytes on. The rows are
the same as the Python path's (`exports.contact_rows` and `attempt_rows`), which the JSON formats
use.
"""

from __future__ import annotations

import codecs
import io
import select
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from psycopg.errors import error_from_result
from psycopg.pq import ExecStatus
from psycopg.pq.abc import PGconn
from sqlalchemy import Connection, Select

from ..db.schema import contacts
from ..errors import DatabaseError
from ..outfiles import append_file
from .cells import contact_cells, contact_select, utc_text
from .queries import Filters, attempt_query, import_files, middle_phone

BATCH = 1_000  # rows joined into one write


def usable(connection: Connection) -> bool:
    """On PostgreSQL."""
    return connection.dialect.name == "postgresql"


def contact_csv(
    connection: Connection, campaign_id: int, fields: Sequence[str], filters: Filters
) -> Select[Any]:
    """`exports.CONTACT_COLUMNS` then the CSV's own fields, every cell ready for CSV."""
    # One scan of the campaign's contacts: JIT's compilation costs more than it saves, as for
    # the halves (`_HALF_PLAN`).
    connection.exec_driver_sql("SET LOCAL jit = off")
    files = import_files(connection, campaign_id)
    cells = [cell for cell, _ in contact_cells(connection, fields, files)]
    return contact_select(connection, campaign_id, cells, filters)


def attempt_select(connection: Connection, campaign_id: int, filters: Filters) -> Select[Any]:
    """`exports.ATTEMPT_COLUMNS`, every cell ready for CSV."""
    return attempt_query(
        connection,
        campaign_id,
        filters,
        neutralise=True,
        when=lambda column: utc_text(connection, column),
    )


def copy_csv(connection: Connection, query: Select[Any], out: TextIO) -> int:
    """Write `query`'s rows to `out` as CSV (no header) with COPY; returns how many."""
    with _copying(connection, query, out) as reader:
        (count,) = _read([reader])
    return count


@contextmanager
def _copying(connection: Connection, query: Select[Any], out: TextIO) -> Iterator[_Reader]:
    """The COPY of `query` started on `connection`, with its reader into `out`. Leaving the
    block early (an error from the reader or from `out`) leaves the rest to psycopg's `Copy`
    block, which cancels the query."""
    compiled = query.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    driver = connection.connection.driver_connection
    assert driver is not None
    # A file or stdout takes COPY's bytes as they are (UTF-8, like the text around them);
    # anything else gets them decoded.
    buffer = getattr(out, "buffer", None)
    decoder = codecs.getincrementaldecoder("utf-8")()
    write = buffer.write if buffer is not None else lambda data: out.write(decoder.decode(data))
    out.flush()
    with driver.cursor() as cursor:
        cursor.execute("SET LOCAL DateStyle = 'ISO, YMD'")  # what `cells.utc_text` reads
        with cursor.copy(f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)", compiled.params):
            yield _Reader(driver.pgconn, write)
    if buffer is not None:
        buffer.flush()
    else:
        out.write(decoder.decode(b"", final=True))


class _Reader:
    """The rows of the COPY TO STDOUT that `pgconn` is in, passed to `write` `BATCH` at a time.

    The server sends one message a row: libpq's calls in a plain loop cost about a third less
    CPU than psycopg's `Copy` iteration (a generator and a wait per row)."""

    def __init__(self, pgconn: PGconn, write: Callable[[bytes], object]) -> None:
        self.pgconn = pgconn
        self.write = write
        self.rows: list[memoryview] = []
        self.copied = 0  # the rows the server counted, once the COPY has ended

    def drain(self) -> bool:
        """Pass on the rows libpq has received; True once the COPY's last has been.

        The rows are counted once a drain (each brings a socket read's worth, ~90 rows), not
        once a row. At the COPY's end its result is taken before the last rows are written:
        its connection is then out of the COPY whatever the write raises (psycopg's `Copy`
        block cannot cancel a COPY whose end libpq has read, nor roll its transaction back
        with the result unread)."""
        get = self.pgconn.get_copy_data
        rows = self.rows
        append = rows.append
        size, data = get(1)
        while size > 0:
            append(data)
            size, data = get(1)
        if size < 0:
            self.copied = self._result()
        if size < 0 or len(rows) >= BATCH:
            self.write(b"".join(rows))
            rows.clear()
        return size < 0

    def _result(self) -> int:
        """The ended COPY's result: how many rows, or its error raised."""
        pgconn = self.pgconn
        while pgconn.is_busy():
            select.select([pgconn.socket], [], [])
            pgconn.consume_input()
        result = pgconn.get_result()
        while pgconn.get_result() is not None:
            pass
        if result is None:
            raise DatabaseError("report: the COPY ended without a result")
        if result.status != ExecStatus.COMMAND_OK:
            raise error_from_result(result)
        return result.command_tuples or 0


def _read(
    readers: Sequence[_Reader], ended: Callable[[_Reader], object] = lambda reader: None
) -> list[int]:
    """Read the COPYs of `readers` to their ends, all at once in this thread: a `select` on
    their sockets, each one's rows passed on as they come (a thread for each cost ~8% more of
    the client's CPU: the interpreter's lock changing hands), `ended` told of each as its last
    row has been. Returns their row counts."""
    waiting = {}
    for reader in readers:
        if reader.drain():
            ended(reader)
        else:
            waiting[reader.pgconn.socket] = reader
    while waiting:
        ready, _, _ = select.select(list(waiting), [], [])
        for socket in ready:
            reader = waiting[socket]
            reader.pgconn.consume_input()
            if reader.drain():
                del waiting[socket]
                ended(reader)
    return [reader.copied for reader in readers]


# Each half reads its numbers in index order (a sort of the half's wide rows spilled to disk);
# forbidding the sort inflates the plan's cost past JIT's thresholds, whose compilation cost
# each backend ~1.2 s of CPU for nothing.
_HALF_PLAN = ("max_parallel_workers_per_gather = 0", "enable_sort = off", "jit = off")


def copy_halves(
    connection: Connection, campaign_id: int, query: Select[Any], out: TextIO, split_from: int
) -> int:
    """`copy_csv` of the contacts' `query`, from `split_from` contacts on in two halves of the
    numbers copied at once by two backends (the formatting is the server's work, one core per
    query), both read here at once (`_read`). The second half goes into a temporary file until
    the first has ended; then what it holds is copied after the first, and the rest of the
    second follows it straight (often while its server is still at work, instead of ~150 MB
    copied at the end of a million contacts with nothing else running). Both read one
    snapshot (`pg_export_snapshot`), so the halves are the same moment of the campaign."""
    middle = middle_phone(connection, campaign_id, split_from)
    if middle is None:
        return copy_csv(connection, query, out)
    engine = connection.engine
    with (
        engine.connect().execution_options(isolation_level="REPEATABLE READ") as lower,
        engine.connect().execution_options(isolation_level="REPEATABLE READ") as upper,
        lower.begin(),
        upper.begin(),
        tempfile.TemporaryFile() as spill,
    ):
        snapshot = lower.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
        upper.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        for half in (lower, upper):
            for setting in _HALF_PLAN:
                half.exec_driver_sql(f"SET LOCAL {setting}")
        second = io.TextIOWrapper(spill, encoding="utf-8", newline="")
        with (
            _copying(lower, query.where(contacts.c.phone < middle), out) as first,
            _copying(upper, query.where(contacts.c.phone >= middle), second) as rest,
        ):

            def ended(reader: _Reader) -> None:
                if reader is first:
                    append_file(spill, out)
                    rest.write = first.write

            count, more = _read([first, rest], ended)
        second.detach()
    return count + more
