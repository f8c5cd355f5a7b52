"""CSV lines written by SQLite: one text column per contact, the whole CSV line.

SQLite formats every cell (`cells.contact_cells`, as PostgreSQL's COPY does), quotes it and
joins the line with one `printf`; Python only writes the strings it fetches from the raw
`sqlite3` cursor (the cells fetched one by one and written by `csv.writer` cost ~20% more CPU).
The rows are the same as `exports.contact_rows` gives (a test checks it). Free-text cells are
always quoted (`"..."`, inner `"` doubled), which any CSV reader reads as the same value; the
other cells (E.164 numbers, states, times, counts) never hold a comma, quote or line break.
"""

from __future__ import annotations

import codecs
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from sqlalchemy import ColumnElement, Connection, Select, String, case, func, literal, type_coerce

from ..db.schema import contacts
from ..errors import DatabaseError
from ..outfiles import append_file
from .cells import contact_cells, contact_select, field_cell
from .queries import SPLIT_FROM, Filters, import_fields, middle_phone
from .sqlite_lines import reader, write_lines


def usable(connection: Connection, fields: Sequence[str]) -> bool:
    """On SQLite, unless a CSV column's name is one a JSON path cannot name (`whole_fields`)."""
    return connection.dialect.name == "sqlite" and not any('"' in n or "\\" in n for n in fields)


def contact_lines(
    connection: Connection,
    campaign_id: int,
    fields: Sequence[str],
    filters: Filters,
    files: dict[int, str],
) -> Select[Any]:
    """One column: each contact's CSV line, `\\n` included, in phone-number order, of the cells
    of `cells.contact_cells` (`files`: the imports' file names), the fields last
    (`field_cells`, with the columns each import recorded)."""
    cells = contact_cells(connection, (), files)
    # One printf builds the line (a chain of `||` copies the growing line at every cell); its
    # `%w` doubles the quotes of free text, a NULL one is written `""` (an empty string to any
    # CSV reader, as an empty cell is); `%s` writes NULL as nothing.
    pattern = ",".join('"%w"' if free else "%s" for _, free in cells)
    values: list[ColumnElement[Any]] = [
        func.ifnull(type_coerce(c, String), "") if free else type_coerce(c, String)
        for c, free in cells
    ]
    if fields:
        pattern += ",%s"
        values.append(field_cells(connection, fields, import_fields(connection, campaign_id)))
    line = func.printf(pattern + "\n", *values)
    return contact_select(connection, campaign_id, [line], filters)


def field_cells(
    connection: Connection, fields: Sequence[str], recorded: dict[int, list[str]]
) -> ColumnElement[Any]:
    """A contact's CSV cells of `fields`, `"v1","v2"`, joined.

    A contact of an import whose columns (`recorded`) begin `fields` (one header for the whole
    campaign: the usual case; rejected rows may add names after them) has them stored, built by
    the importer (`contacts.fields_csv`), followed by an empty cell for each name after; the
    four fields of the report benchmark, each extracted from the JSON and tested for a formula
    start, were 38% of the statement's instructions. Any other contact's are worked out from
    its JSON."""
    extracted = [
        func.ifnull(type_coerce(field_cell(connection, name), String), "") for name in fields
    ]
    worked_out = func.printf(",".join(['"%w"'] * len(fields)), *extracted)
    stored: dict[int, ColumnElement[Any]] = {}
    for import_id, columns in recorded.items():
        if list(fields[: len(columns)]) != columns:
            continue
        empty = ",".join(['""'] * (len(fields) - len(columns)))
        if not columns:
            stored[import_id] = literal(empty, String)
        elif empty:
            stored[import_id] = contacts.c.fields_csv + ("," + empty)
        else:
            stored[import_id] = type_coerce(contacts.c.fields_csv, String)
    if not stored:
        return worked_out
    # NULL (no stored cells: a contact written by other means) falls through to its JSON.
    return func.coalesce(case(stored, value=contacts.c.import_id, else_=None), worked_out)


def _statement(connection: Connection, query: Select[Any]) -> str:
    """`query` as one SQL text with its values written in (all are text or numbers)."""
    return str(query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))


def write_csv(
    connection: Connection,
    campaign_id: int,
    fields: Sequence[str],
    filters: Filters,
    files: dict[int, str],
    out: TextIO,
    *,
    split_from: int = SPLIT_FROM,
) -> int:
    """Write the contacts' CSV lines to `out`; returns how many.

    With more than one CPU and at least `split_from` contacts, the second half of the numbers
    is written at the same time by a second process (`sqlite_lines`) into a temporary file,
    copied after the first half. The second process is started before the statement is built,
    so that its own start overlaps that work. Each half (or the whole) is read on a connection of
    its own (`sqlite_lines.reader`), in a read transaction of its own: during a run, the second
    may see calls the first did not; each row is whole, none is missing or written twice. The
    lines go to `out` as the UTF-8 bytes SQLite holds (`_bytes_to`).
    """
    path = connection.engine.url.database
    if not path or path == ":memory:":
        path = None
    middle = None
    if path is not None and len(os.sched_getaffinity(0)) > 1:
        middle = middle_phone(connection, campaign_id, split_from)
    if path is None or middle is None:
        query = contact_lines(connection, campaign_id, fields, filters, files)
        return _write(connection, path, _statement(connection, query), out)
    with tempfile.TemporaryFile() as second:
        child = subprocess.Popen(
            [sys.executable, "-m", "campaigner.reports.sqlite_lines", path],
            stdin=subprocess.PIPE,
            stdout=second,
            stderr=subprocess.PIPE,
        )
        assert child.stdin is not None
        assert child.stderr is not None
        try:
            query = contact_lines(connection, campaign_id, fields, filters, files)
            child.stdin.write(
                _statement(connection, query.where(contacts.c.phone >= middle)).encode()
            )
            child.stdin.close()
            lower = _statement(connection, query.where(contacts.c.phone < middle))
            count = _write(connection, path, lower, out)
            errors = child.stderr.read().decode(errors="replace")
        finally:
            child.stderr.close()
            if child.poll() is None:
                child.kill()
            child.wait()
        if child.returncode != 0:
            last = errors.strip().splitlines()[-1:] or [f"exit status {child.returncode}"]
            raise DatabaseError(f"report: the process writing the second half failed: {last[0]}")
        append_file(second, out)
    return count + int(errors.split()[-1])  # the child's last word is its row count


def _write(connection: Connection, path: str | None, statement: str, out: TextIO) -> int:
    """Write the lines of `statement` to `out`; how many. They are read on a connection of
    their own to the file `path` (`sqlite_lines.reader`), or on `connection`'s own where there is
    no file (`:memory:`)."""
    if path is None:
        driver = connection.connection.driver_connection
        assert driver is not None
        return write_lines(driver, statement, _bytes_to(out))
    own = reader(path)
    try:
        return write_lines(own, statement, _bytes_to(out))
    finally:
        own.close()


def _bytes_to(out: TextIO) -> Callable[[bytes], object]:
    """How to write UTF-8 lines to `out`: to its binary buffer as they are, once what `out`
    holds is flushed to it, where `out` encodes to UTF-8 and has one (a file, stdout; the BOM of
    `--excel` came with the header); decoded to `out` otherwise (a StringIO)."""
    out.flush()
    buffer = getattr(out, "buffer", None)
    encoding = getattr(out, "encoding", None)
    if buffer is not None and encoding and codecs.lookup(encoding).name in ("utf-8", "utf-8-sig"):
        write: Callable[[bytes], object] = buffer.write
        return write
    return lambda lines: out.write(lines.decode())
