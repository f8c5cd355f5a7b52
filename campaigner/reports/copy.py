"""CSV straight from PostgreSQL: `COPY (SELECT ...) TO STDOUT WITH (FORMAT csv)`.

On PostgreSQL the server formats every cell (local times by a CASE over the offsets of each
zone of the campaign, worked out by Python's zone database as for every other report; the
import's file name by a join; formula-looking cells neutralised) and quotes the CSV itself;
campaigner only passes the bytes on. The rows are the same as the Python path's
(`exports.contact_rows` and `attempt_rows`), which the JSON formats use.
"""

from __future__ import annotations

import codecs
import io
import shutil
import tempfile
import threading
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, TextIO

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    select,
)

from ..db.schema import attempts, contacts, imports
from .definitions import DUPLICATE, REJECTED
from .queries import (
    Filters,
    Period,
    campaign_zones,
    middle_phone,
    seconds_text,
    suppression_reason,
    text_cell,
    time_conditions,
)


def usable(connection: Connection) -> bool:
    """On PostgreSQL."""
    return connection.dialect.name == "postgresql"


def _utc(column: Any) -> ColumnElement[Any]:
    """`iso_text`, cheaper: the timestamp's own text (DateStyle ISO, set by `copy_csv`) cut to
    the second; `to_char` cost ~0.5 µs a value."""
    text = func.left(cast(func.timezone("UTC", column), String), 19)
    return func.replace(text, " ", "T") + literal("Z")


def _local(column: Any, zones: dict[str, list[Period] | None]) -> ColumnElement[Any]:
    """`2026-11-20T10:00:00-05:00`: the UTC time `column` in the contact's zone, shifted by the
    offsets Python's zone database gives (`zone_periods`), as `LocalTimes` writes it. `AT TIME
    ZONE` and `to_char` with the offset worked out per row cost ~5.5 µs a value."""
    utc = func.timezone("UTC", column)
    branches: dict[str, ColumnElement[Any]] = {}
    for name, periods in zones.items():
        if periods is None:
            continue
        texts = [
            (
                period.until,
                func.replace(
                    func.left(cast(utc + timedelta(seconds=period.shift), String), 19), " ", "T"
                )
                + literal(period.offset),
            )
            for period in periods
        ]
        *bounded, (_, last) = texts
        branches[name] = (
            case(*((column < until, text) for until, text in bounded if until), else_=last)
            if bounded
            else last
        )
    if not branches:
        return literal(None, String)
    return case(branches, value=contacts.c.timezone, else_=None)


def contact_select(
    connection: Connection, campaign_id: int, fields: Sequence[str], filters: Filters
) -> Select[Any]:
    """`exports.CONTACT_COLUMNS` then the CSV's own fields, every cell ready for CSV."""
    first = attempts.alias("first_call")
    last = attempts.alias("last_call")

    def free(column: Any) -> ColumnElement[Any]:
        return text_cell(connection, column, True)

    when = _utc
    zones = campaign_zones(connection, campaign_id)

    query = (
        select(
            contacts.c.phone,
            free(contacts.c.phone_raw),
            contacts.c.state,
            contacts.c.last_outcome,
            suppression_reason(connection, True),
            contacts.c.attempts,
            when(first.c.requested_at),
            _local(first.c.requested_at, zones),
            when(last.c.requested_at),
            _local(last.c.requested_at, zones),
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
            _utc(attempts.c.requested_at),
            _local(attempts.c.requested_at, campaign_zones(connection, campaign_id)),
            _utc(attempts.c.answered_at),
            _utc(attempts.c.ended_at),
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
        cursor.execute("SET LOCAL DateStyle = 'ISO, YMD'")  # what `_utc` reads
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


# Each half reads its numbers in index order and finds the first and last call by the unique
# (contact_id, attempt_number) index; left to itself, the planner hashed all the campaign's
# attempts in each half and sorted each on disk: ~30% more server CPU (benchmarks/RESULTS.md).
_HALF_PLAN = ("max_parallel_workers_per_gather = 0", "enable_hashjoin = off", "enable_sort = off")


def copy_halves(
    connection: Connection, campaign_id: int, query: Select[Any], out: TextIO, split_from: int
) -> int:
    """`copy_csv` of the contacts' `query`, from `split_from` contacts on in two halves of the
    numbers copied at once by two backends (the formatting is the server's work, one core per
    query): the second half into a temporary file by a thread, then copied after the first.
    Both read one snapshot (`pg_export_snapshot`), so the halves are the same moment of the
    campaign."""
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
        counted: list[int] = []
        failed: list[BaseException] = []

        def copy_upper() -> None:
            try:
                counted.append(copy_csv(upper, query.where(contacts.c.phone >= middle), second))
            except BaseException as error:  # re-raised by the caller's thread
                failed.append(error)

        thread = threading.Thread(target=copy_upper, name="report-copy")
        thread.start()
        try:
            count = copy_csv(lower, query.where(contacts.c.phone < middle), out)
        finally:
            thread.join()
        if failed:
            raise failed[0]
        second.flush()
        spill.seek(0)
        buffer = getattr(out, "buffer", None)
        if buffer is not None:
            shutil.copyfileobj(spill, buffer)
            buffer.flush()
        else:
            out.write(spill.read().decode())
        second.detach()
    return count + counted[0]
