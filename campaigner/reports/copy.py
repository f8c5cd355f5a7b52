"""CSV straight from PostgreSQL: `COPY (SELECT ...) TO STDOUT WITH (FORMAT csv)`.

On PostgreSQL the server formats every cell (local times with `AT TIME ZONE`, the import's file
name by a join, formula-looking cells neutralised) and quotes the CSV itself; campaigner only
passes the bytes on. The rows are the same as the Python path's (`exports.contact_rows` and
`attempt_rows`), which SQLite and the JSON formats use. A campaign with a time zone that
PostgreSQL does not know (its zone database may be older than Python's) takes the Python path.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from typing import Any, TextIO

from sqlalchemy import ColumnElement, Connection, Select, and_, literal_column, select, text

from ..db.schema import attempts, contacts, imports
from .definitions import DUPLICATE, REJECTED
from .queries import (
    Filters,
    iso_text,
    seconds_text,
    suppression_reason,
    text_cell,
    time_conditions,
)


def usable(connection: Connection, campaign_id: int) -> bool:
    """Whether PostgreSQL knows every time zone of the campaign's contacts."""
    if connection.dialect.name != "postgresql":
        return False
    unknown = connection.execute(
        text(
            "SELECT count(*) FROM (SELECT DISTINCT timezone FROM contacts "
            "WHERE campaign_id = :campaign) AS zones WHERE timezone NOT IN "
            "(SELECT name FROM pg_timezone_names)"
        ),
        {"campaign": campaign_id},
    ).scalar_one()
    return bool(unknown == 0)


def _local(column: str, zone: str) -> ColumnElement[Any]:
    """`2026-11-20T10:00:00-05:00`: the UTC time `column` in the zone named by `zone` (SQL)."""
    local = f"({column} AT TIME ZONE {zone})"
    offset = f"CAST(EXTRACT(EPOCH FROM {local} - ({column} AT TIME ZONE 'UTC')) AS integer)"
    return literal_column(
        f"to_char({local}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
        f"CASE WHEN {offset} < 0 THEN '-' ELSE '+' END || "
        f"lpad(CAST(abs({offset}) / 3600 AS text), 2, '0') || ':' || "
        f"lpad(CAST(abs({offset}) % 3600 / 60 AS text), 2, '0')"
    )


def contact_select(
    connection: Connection, campaign_id: int, fields: Sequence[str], filters: Filters
) -> Select[Any]:
    """`exports.CONTACT_COLUMNS` then the CSV's own fields, every cell ready for CSV."""
    first = attempts.alias("first_call")
    last = attempts.alias("last_call")

    def free(column: Any) -> ColumnElement[Any]:
        return text_cell(connection, column, True)

    def when(column: Any) -> ColumnElement[Any]:
        return iso_text(connection, column)

    query = (
        select(
            contacts.c.phone,
            free(contacts.c.phone_raw),
            contacts.c.state,
            contacts.c.last_outcome,
            suppression_reason(connection, True),
            contacts.c.attempts,
            when(first.c.requested_at),
            _local("first_call.requested_at", "contacts.timezone"),
            when(last.c.requested_at),
            _local("last_call.requested_at", "contacts.timezone"),
            when(last.c.answered_at),
            when(last.c.ended_at),
            seconds_text(connection, last.c.answered_at, last.c.ended_at),
            free(last.c.dtmf),
            free(contacts.c.response),
            when(contacts.c.responded_at),
            free(last.c.provider_reason),
            free(first.c.provider_call_id),
            free(last.c.provider_call_id),
            free(contacts.c.timezone),
            contacts.c.timezone_source,
            free(imports.c.file_name),
            contacts.c.source_row,
            *(free(contacts.c.fields[name].as_string()) for name in fields),
        )
        .select_from(contacts)
        .outerjoin(first, and_(first.c.contact_id == contacts.c.id, first.c.attempt_number == 1))
        .outerjoin(
            last,
            and_(last.c.contact_id == contacts.c.id, last.c.attempt_number == contacts.c.attempts),
        )
        .outerjoin(imports, imports.c.id == contacts.c.import_id)
        .where(
            contacts.c.campaign_id == campaign_id, *time_conditions(last.c.requested_at, filters)
        )
        .order_by(contacts.c.phone)
    )
    if filters.states:
        query = query.where(contacts.c.state.in_(sorted(filters.states - {REJECTED, DUPLICATE})))
    return query


def attempt_select(connection: Connection, campaign_id: int, filters: Filters) -> Select[Any]:
    """`exports.ATTEMPT_COLUMNS`, every cell ready for CSV."""

    def free(column: Any) -> ColumnElement[Any]:
        return text_cell(connection, column, True)

    query = (
        select(
            contacts.c.phone,
            attempts.c.attempt_number,
            attempts.c.provider,
            free(attempts.c.provider_call_id),
            attempts.c.correlation_key,
            iso_text(connection, attempts.c.requested_at),
            _local("attempts.requested_at", "contacts.timezone"),
            iso_text(connection, attempts.c.answered_at),
            iso_text(connection, attempts.c.ended_at),
            seconds_text(connection, attempts.c.answered_at, attempts.c.ended_at),
            attempts.c.outcome,
            attempts.c.progress,
            free(attempts.c.provider_reason),
            free(attempts.c.dtmf),
            free(attempts.c.error),
            contacts.c.state,
            contacts.c.timezone,
        )
        .select_from(attempts)
        .join(contacts, contacts.c.id == attempts.c.contact_id)
        .where(
            attempts.c.campaign_id == campaign_id,
            *time_conditions(attempts.c.requested_at, filters),
        )
        .order_by(attempts.c.id)
    )
    if filters.states:
        query = query.where(attempts.c.outcome.in_(sorted(filters.states)))
    return query


def copy_csv(connection: Connection, query: Select[Any], out: TextIO) -> int:
    """Write `query`'s rows to `out` as CSV (no header) with COPY; returns how many."""
    compiled = query.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    driver = connection.connection.driver_connection
    assert driver is not None
    # A file or stdout takes COPY's bytes as they are (UTF-8, like the text around them);
    # anything else gets them decoded.
    buffer = getattr(out, "buffer", None)
    decoder = codecs.getincrementaldecoder("utf-8")()
    out.flush()
    with driver.cursor() as cursor:
        with cursor.copy(f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)", compiled.params) as copy:
            for chunk in copy:
                if buffer is not None:
                    buffer.write(chunk)
                else:
                    out.write(decoder.decode(bytes(chunk)))
        if buffer is not None:
            buffer.flush()
        else:
            out.write(decoder.decode(b"", final=True))
        count: int = cursor.rowcount
    return count
