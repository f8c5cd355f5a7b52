"""CSV lines written by SQLite: one text column per contact, the whole CSV line.

Building rows in Python and passing them through `csv.writer` cost ~20 µs of CPU a contact, this
~17 (see benchmarks/RESULTS.md): SQLite formats every cell, quotes it and joins the line, and
Python only writes the strings it fetches from the raw `sqlite3` cursor. The rows are the same
as `exports.contact_rows` gives (a test checks it). Free-text cells are always quoted (`"..."`,
inner `"` doubled), which any CSV reader reads as the same value; the other cells (E.164
numbers, states, times, counts) never hold a comma, quote or line break.

SQLite has no time zones: the local times are `strftime` shifts by a CASE on the contact's zone
and the UTC time, built from the offsets each zone had over the campaign's calls (`zone_periods`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    String,
    and_,
    case,
    func,
    literal,
    select,
    type_coerce,
)

from ..db.schema import attempts, contacts
from ..errors import DatabaseError
from .definitions import DUPLICATE, REJECTED
from .queries import (
    FORMULA_STARTS,
    SPLIT_FROM,
    Filters,
    Period,
    campaign_zones,
    iso_text,
    middle_phone,
    seconds_text,
    suppression_reason,
    text_cell,
)

FETCH = 5_000


def usable(connection: Connection, fields: Sequence[str]) -> bool:
    """On SQLite, unless a CSV column's name is one a JSON path cannot name (`whole_fields`)."""
    return connection.dialect.name == "sqlite" and not any('"' in n or "\\" in n for n in fields)


def _stored(moment: datetime) -> str:
    """A UTC time as SQLite stores it (`UTCDateTime`), for comparisons with stored text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def local_text(column: Any, zones: dict[str, list[Period] | None]) -> ColumnElement[Any]:
    """`2026-11-20T09:03:09-05:00`: the stored UTC time `column` in the contact's zone."""
    stored = type_coerce(column, String)
    second = func.substr(stored, 1, 19)
    branches: dict[str, ColumnElement[Any]] = {}
    for name, periods in zones.items():
        if periods is None:
            continue
        shifted = [
            (
                period.until,
                func.strftime("%Y-%m-%dT%H:%M:%S", second, f"{period.shift:+d} seconds")
                + literal(period.offset),
            )
            for period in periods
        ]
        *bounded, (_, last) = shifted
        branches[name] = (
            case(*((stored < _stored(until), text) for until, text in bounded if until), else_=last)
            if bounded
            else last
        )
    if not branches:
        return literal(None, String)
    return case(branches, value=contacts.c.timezone, else_=None)


def _quote_text(value: str) -> str:
    """A free-text cell quoted here rather than by SQLite (an import's file name)."""
    cleaned = "'" + value if value.startswith(FORMULA_STARTS) else value
    return '"' + cleaned.replace('"', '""') + '"'


def _plain(value: Any) -> ColumnElement[Any]:
    """A cell that needs no quotes (`printf`'s `%s` writes NULL as nothing)."""
    return type_coerce(value, String)


def _quoted(value: Any) -> ColumnElement[Any]:
    """A free-text cell, neutralised already (`text_cell`), in quotes; NULL as an empty cell."""
    inner = func.replace(type_coerce(value, String), '"', '""')
    return func.ifnull(literal('"') + inner + literal('"'), "")


def contact_lines(
    connection: Connection,
    campaign_id: int,
    fields: Sequence[str],
    filters: Filters,
    files: dict[int, str],
    zones: dict[str, list[Period] | None],
) -> Select[Any]:
    """One column: each contact's CSV line, `\\n` included, in phone-number order. `files`:
    the imports' file names; `zones`: the offsets of the contacts' time zones (`zone_periods`).
    """
    first = attempts.alias("first_call")
    last = attempts.alias("last_call")

    def free(column: Any) -> ColumnElement[Any]:
        return _quoted(text_cell(connection, column, True))

    def when(column: Any) -> ColumnElement[Any]:
        return _plain(iso_text(connection, column))

    file_cell: ColumnElement[Any] = (
        case(
            {key: _quote_text(name) for key, name in files.items()},
            value=contacts.c.import_id,
            else_="",
        )
        if files
        else literal("")
    )
    cells: list[ColumnElement[Any]] = [
        _plain(contacts.c.phone),
        free(contacts.c.phone_raw),
        _plain(contacts.c.state),
        _plain(contacts.c.last_outcome),
        _quoted(suppression_reason(connection, True)),
        _plain(contacts.c.attempts),
        when(first.c.requested_at),
        local_text(first.c.requested_at, zones),
        when(last.c.requested_at),
        local_text(last.c.requested_at, zones),
        when(last.c.answered_at),
        when(last.c.ended_at),
        _plain(seconds_text(connection, last.c.answered_at, last.c.ended_at)),
        free(last.c.dtmf),
        free(contacts.c.response),
        when(contacts.c.responded_at),
        free(last.c.provider_reason),
        free(first.c.provider_call_id),
        free(last.c.provider_call_id),
        free(contacts.c.timezone),
        _plain(contacts.c.timezone_source),
        file_cell,
        _plain(contacts.c.source_row),
        *(free(contacts.c.fields[name].as_string()) for name in fields),
    ]
    # One printf builds the line: a chain of `||` copies the growing line at every cell.
    line = func.printf(",".join(["%s"] * len(cells)) + "\n", *cells)
    query = (
        select(line)
        .select_from(contacts)
        .outerjoin(first, and_(first.c.contact_id == contacts.c.id, first.c.attempt_number == 1))
        .outerjoin(
            last,
            and_(last.c.contact_id == contacts.c.id, last.c.attempt_number == contacts.c.attempts),
        )
        .where(contacts.c.campaign_id == campaign_id, *_time_conditions(last, filters))
        .order_by(contacts.c.phone)
    )
    if filters.states:
        query = query.where(contacts.c.state.in_(sorted(filters.states - {REJECTED, DUPLICATE})))
    return query


def _time_conditions(call: Any, filters: Filters) -> list[ColumnElement[bool]]:
    """`Filters`' times compared as SQLite stores them, so the statement can carry them as
    literals (it is handed to `sqlite_lines` as text)."""
    placed = type_coerce(call.c.requested_at, String)
    conditions: list[ColumnElement[bool]] = []
    if filters.since is not None:
        conditions.append(placed >= _stored(filters.since))
    if filters.until is not None:
        conditions.append(placed < _stored(filters.until))
    return conditions


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
    copied after the first half. The halves are two read transactions: during a run, the second
    may see calls the first did not (each row is whole; none is missing or written twice).
    """
    query = contact_lines(
        connection, campaign_id, fields, filters, files, campaign_zones(connection, campaign_id)
    )
    path = connection.engine.url.database
    middle = None
    if path is not None and path != ":memory:" and len(os.sched_getaffinity(0)) > 1:
        middle = middle_phone(connection, campaign_id, split_from)
    if path is None or middle is None:
        return _write(connection, _statement(connection, query), out)
    upper = _statement(connection, query.where(contacts.c.phone >= middle))
    lower = _statement(connection, query.where(contacts.c.phone < middle))
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
            child.stdin.write(upper.encode())
            child.stdin.close()
            count = _write(connection, lower, out)
            errors = child.stderr.read().decode(errors="replace")
        finally:
            child.stderr.close()
            if child.poll() is None:
                child.kill()
            child.wait()
        if child.returncode != 0:
            last = errors.strip().splitlines()[-1:] or [f"exit status {child.returncode}"]
            raise DatabaseError(f"report: the process writing the second half failed: {last[0]}")
        second.seek(0)
        out.flush()
        buffer = getattr(out, "buffer", None)
        if buffer is not None:
            shutil.copyfileobj(second, buffer)
            buffer.flush()
        else:
            out.write(second.read().decode())
    return count + int(errors.split()[-1])  # the child's last word is its row count


def _write(connection: Connection, statement: str, out: TextIO) -> int:
    """Write the lines of `statement` to `out`, fetched from the driver's cursor; how many."""
    driver = connection.connection.driver_connection
    assert driver is not None
    cursor = driver.execute(statement)
    try:
        count = 0
        write = out.writelines
        while batch := cursor.fetchmany(FETCH):
            write([row[0] for row in batch])
            count += len(batch)
    finally:
        cursor.close()
    return count
