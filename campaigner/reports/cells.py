"""The contacts' CSV cells, every one formatted by the database, on SQLite and PostgreSQL.

PostgreSQL's COPY (`copy`) and SQLite's lines (`sqlite_csv`) write the same cells, built here
once: one scan of the campaign's contacts (each contact keeps its first and last call, see
migration 0010), in phone-number order, times as ISO 8601 text, free text neutralised
(`text_cell`), local times as the dialer recorded them (migration 0013).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Interval,
    Select,
    String,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import TIMESTAMP

from ..db.schema import contacts
from ..rowcheck import FORMULA_STARTS
from .definitions import DUPLICATE, REJECTED
from .queries import (
    Filters,
    iso_text,
    seconds_text,
    suppression_reason,
    text_cell,
)


def stored(moment: datetime) -> str:
    """A UTC time as SQLite stores it (`UTCDateTime`), for comparisons with stored text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def utc_text(connection: Connection, column: Any) -> ColumnElement[Any]:
    """`iso_text`; on PostgreSQL the timestamp's own text (`_second_text`), ~0.5 µs a value
    cheaper than `to_char`."""
    if connection.dialect.name == "sqlite":
        return iso_text(connection, column)
    return _second_text(column) + literal("Z")


def _second_text(column: Any) -> ColumnElement[Any]:
    """PostgreSQL: the timestamp `column` as UTC's wall-clock time to the second,
    `2026-11-20T09:03:09` (DateStyle ISO, which `copy.copy_csv` sets).

    Half a second earlier and rounded to the second (a cast to `timestamp(0)`), a time after
    2000's first second (the type counts from 2000 and rounds halves away from it) loses its
    fraction: its text is then the 19 characters wanted, ~0.1 µs a value cheaper than cutting it
    with `left` (which counts UTF-8 characters). `AT TIME ZONE` an interval is arithmetic, where
    a zone's name is looked up at every value; the intervals are constants of the statement,
    not casts made at every row."""
    zone = literal_column("INTERVAL '0 seconds'", Interval)
    earlier = func.timezone(zone, column) - literal_column("INTERVAL '0.5 seconds'", Interval)
    return func.replace(cast(cast(earlier, TIMESTAMP(precision=0)), String), " ", "T")


def file_cell(files: dict[int, str]) -> ColumnElement[Any]:
    """The import's file name (`files`: by import id, from `import_files`), neutralised."""
    if not files:
        return literal(None, String)
    names = {key: "'" + n if n.startswith(FORMULA_STARTS) else n for key, n in files.items()}
    return case(names, value=contacts.c.import_id, else_=None)


def contact_cells(
    connection: Connection,
    fields: Sequence[str],
    files: dict[int, str],
) -> list[tuple[ColumnElement[Any], bool]]:
    """`exports.CONTACT_COLUMNS`, then the CSV's own `fields`, as CSV cells: each with whether
    it is free text (neutralised here; SQLite's lines quote it)."""

    def free(column: Any) -> tuple[ColumnElement[Any], bool]:
        return text_cell(connection, column, True), True

    def plain(value: ColumnElement[Any]) -> tuple[ColumnElement[Any], bool]:
        return value, False

    def when(column: Any) -> tuple[ColumnElement[Any], bool]:
        return plain(utc_text(connection, column))

    c = contacts.c
    return [
        plain(c.phone),
        free(c.phone_raw),
        plain(c.state),
        plain(c.last_outcome),
        (suppression_reason(connection, True), True),
        plain(c.attempts),
        when(c.first_call_at),
        plain(c.first_call_local),
        when(c.last_call_at),
        plain(c.last_call_local),
        when(c.last_answered_at),
        when(c.last_ended_at),
        plain(seconds_text(connection, c.last_answered_at, c.last_ended_at)),
        free(c.last_dtmf),
        free(c.response),
        when(c.responded_at),
        free(c.last_reason),
        free(c.first_call_id),
        free(c.last_call_id),
        free(c.timezone),
        plain(c.timezone_source),
        (file_cell(files), True),
        plain(c.source_row),
        *((field_cell(connection, name), True) for name in fields),
    ]


def field_cell(connection: Connection, name: str) -> ColumnElement[Any]:
    """The contact's CSV field `name`, from its JSON, neutralised."""
    return text_cell(connection, contacts.c.fields[name].as_string(), True)


def contact_select(
    connection: Connection, campaign_id: int, columns: Sequence[Any], filters: Filters
) -> Select[Any]:
    """`columns` of the campaign's contacts that `filters` keep, in phone-number order (the
    unique (campaign_id, phone) index's: no sort)."""
    placed: Any = contacts.c.last_call_at
    if connection.dialect.name == "sqlite":
        # Compared as stored, so that the statement can carry the times as literals
        # (`sqlite_csv` hands it to a second process as text).
        placed = type_coerce(placed, String)

    def moment(value: datetime) -> Any:
        return stored(value) if connection.dialect.name == "sqlite" else value

    query = (
        select(*columns)
        .select_from(contacts)
        .where(contacts.c.campaign_id == campaign_id)
        .order_by(contacts.c.phone)
    )
    if filters.since is not None:
        query = query.where(placed >= moment(filters.since))
    if filters.until is not None:
        query = query.where(placed < moment(filters.until))
    if filters.states:
        query = query.where(contacts.c.state.in_(sorted(filters.states - {REJECTED, DUPLICATE})))
    return query
