"""The reports' reads: one aggregate query per number, one streaming query per export.

Exports never hold a campaign in memory: each is one query, joined and aggregated in SQL (a
contact's first and last attempt are found through the unique (contact_id, attempt_number) index),
read with a server-side cursor (`stream_results`) in batches of `BATCH` rows. Times are read
as ISO 8601 text written by the database (`iso_text`); local times as the dialer recorded them
(`attempts.requested_local`, migration 0013). For CSV, the database also neutralises
formula-looking cells (`text_cell`).
PostgreSQL's CSV export (`copy`) builds on the same pieces.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    DateTime,
    Integer,
    LargeBinary,
    Select,
    String,
    case,
    cast,
    func,
    literal,
    literal_column,
    null,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import INTERVAL

from ..db.schema import attempts, contacts, import_rejects, imports, suppressions
from ..model import ContactState, Outcome
from ..rowcheck import FORMULA_STARTS
from .definitions import DUPLICATE, REJECTED, HourRate, Summary

BATCH = 10_000
SPLIT_FROM = 100_000  # contacts from which a CSV export is written in two halves at once


def campaign_summary(connection: Connection, campaign_id: int) -> Summary:
    """The counts behind every report and `status` (see `definitions.Summary`)."""
    by_state: Counter[ContactState] = Counter()
    responses: Counter[str] = Counter()
    called = 0
    dialled = 0
    rows = connection.execute(
        select(
            contacts.c.state,
            contacts.c.response,
            func.count(),
            func.coalesce(func.sum(contacts.c.attempts), 0),
            func.coalesce(func.sum(case((contacts.c.attempts > 0, 1), else_=0)), 0),
        )
        .where(contacts.c.campaign_id == campaign_id)
        .group_by(contacts.c.state, contacts.c.response)
    )
    for state, response, count, placed, reached in rows:
        by_state[ContactState(state)] += count
        called += int(placed)
        dialled += int(reached)
        if response is not None:
            responses[response] += count
    in_flight = connection.execute(
        select(func.count()).where(
            attempts.c.campaign_id == campaign_id, attempts.c.outcome.is_(None)
        )
    ).scalar_one()
    rejected = dict.fromkeys((False, True), 0)
    for duplicate, count in connection.execute(
        select(import_rejects.c.is_duplicate, func.count())
        .where(import_rejects.c.campaign_id == campaign_id)
        .group_by(import_rejects.c.is_duplicate)
    ):
        rejected[bool(duplicate)] = count
    return Summary(
        contacts=by_state.total(),
        by_state=dict(by_state),
        attempts=called,
        dialled=dialled,
        in_flight=in_flight,
        rejected_rows=rejected[False],
        duplicate_rows=rejected[True],
        responses=dict(sorted(responses.items())),
    )


def calls_since(connection: Connection, campaign_id: int, since: datetime) -> int:
    """Calls placed at or after `since` (the dialling rate of `status`)."""
    return int(
        connection.execute(
            select(func.count()).where(
                attempts.c.campaign_id == campaign_id, attempts.c.requested_at >= since
            )
        ).scalar_one()
    )


def earliest_retry(connection: Connection, campaign_id: int, after: datetime) -> datetime | None:
    """When the first pending contact waiting for a retry becomes due."""
    value: datetime | None = connection.execute(
        select(func.min(contacts.c.next_attempt_at)).where(
            contacts.c.campaign_id == campaign_id,
            contacts.c.state == ContactState.PENDING.value,
            contacts.c.next_attempt_at > after,
        )
    ).scalar_one()
    return value


# --- Times ---------------------------------------------------------------------------------------


def iso_text(connection: Connection, column: Any) -> ColumnElement[Any]:
    """A stored (UTC) time as ISO 8601 text to the second, `2026-11-20T14:03:09Z`, written by
    the database: formatting a million times in Python would cost more than the whole query."""
    if connection.dialect.name == "sqlite":
        return sqlite_iso(column, "Z")
    return func.to_char(
        func.timezone("UTC", type_coerce(column, DateTime(timezone=True))),
        'YYYY-MM-DD"T"HH24:MI:SS"Z"',
    )


def sqlite_iso(column: Any, suffix: str) -> ColumnElement[Any]:
    """SQLite: a stored time, `2026-11-20 14:03:09.123456`, as `2026-11-20T14:03:09` and `suffix`,
    its text cut and joined (~0.2 µs a value less than strftime's parsing)."""
    day = type_coerce(func.substr(column, 1, 10), String)
    return day + "T" + type_coerce(func.substr(column, 12, 8), String) + suffix


def seconds_text(connection: Connection, start: Any, end: Any) -> ColumnElement[Any]:
    """Whole seconds from `start` to `end` (NULL if either is), by the database, halves
    rounded away from zero."""
    if connection.dialect.name == "sqlite":
        return cast(func.round((func.julianday(end) - func.julianday(start)) * 86400), Integer)
    # Rounded by the interval type (`interval(0)` rounds halves away from zero), then read as a
    # float's `date_part`, not `extract`'s numeric (~0.2 µs a value less): one subtraction and
    # one `date_part`, ~0.08 µs a value less than rounding the float with sign, abs and floor.
    span = type_coerce(end, DateTime) - type_coerce(start, DateTime)
    return cast(func.date_part("epoch", cast(span, INTERVAL(precision=0))), Integer)


def iso(moment: datetime | None) -> str | None:
    """A time as ISO 8601 text to the second, with its offset."""
    return None if moment is None else moment.isoformat(timespec="seconds")


def epoch_seconds(connection: Connection, column: Any) -> ColumnElement[int]:
    """Whole seconds since 1970 (rounded down) of a stored (UTC) time, computed by the database."""
    if connection.dialect.name == "sqlite":
        return cast(func.strftime("%s", column), Integer)
    return cast(func.floor(func.extract("epoch", column)), BigInteger)


def text_cell(connection: Connection, column: Any, neutralise: bool) -> ColumnElement[Any]:
    """A free-text column, prefixed with `'` by the database when it would start a formula."""
    text = type_coerce(column, String)
    if not neutralise:
        return text
    nothing: list[tuple[ColumnElement[bool], ColumnElement[Any]]] = []
    if connection.dialect.name == "sqlite":
        # Its text functions stop at a NUL: the first byte is read from the bytes.
        first = func.substr(cast(text, LargeBinary), 1, 1)
        starts = ", ".join(f"x'{ord(start):02X}'" for start in FORMULA_STARTS)
        letter = text >= "A"
        if isinstance(column, Column):
            # A NULL (no keys pressed, no response: most rows') is settled before the first
            # byte's cast and cut: 53,677 -> 51,739 instructions a row of the CSV statement on
            # SQLite 3.50. Only for a column, cheap to read twice; an expression (a CSV field's
            # JSON) would be worked out once more for every value not starting with a letter.
            nothing.append((column.is_(None), null()))
    else:
        # The first character's code and a byte-wise comparison (`~>=~`, the C collation's
        # order without looking the collation up): ~0.04 µs a cell less than its substring
        # and a comparison COLLATE "C".
        first = func.ascii(text)
        starts = ", ".join(str(ord(start)) for start in FORMULA_STARTS if start != "\0")
        letter = text.op("~>=~", is_comparison=True)(literal("A", String))
    # Every formula start sorts before `A` byte-wise, and most cells start with a letter: one
    # comparison settles those (about half the cost of the first character's test).
    return case(
        (letter, text),
        *nothing,
        (first.op("IN")(literal_column(f"({starts})")), literal("'") + text),
        else_=text,
    )


# --- Filters -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What an export keeps. `states`: a contact row's state (or an attempt's outcome with
    `--attempts`); `since` / `until`: the time its (last) call was placed, [since, until)."""

    states: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None

    @property
    def by_time(self) -> bool:
        return self.since is not None or self.until is not None

    def keeps(self, state: str) -> bool:
        return not self.states or state in self.states


def time_conditions(column: Any, filters: Filters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.since is not None:
        conditions.append(column >= filters.since)
    if filters.until is not None:
        conditions.append(column < filters.until)
    return conditions


# --- Contact rows --------------------------------------------------------------------------------


def field_names(connection: Connection, campaign_id: int) -> list[str]:
    """The original CSV columns of the campaign's contacts and rejected rows, in file order.

    Each import records its file's columns less the phone column (`imports.fields`: a jsonb
    object orders its keys by length), its contacts' fields; an import counts once a contact of
    it is found (the first found: ordering them by id sorted all the campaign's contacts, 1.2 s
    for a million on SQLite). Rejected rows are read whole (they keep the phone column and any
    extra values, under `_extra`, put last). Contacts with no import (or of an import made
    before 0014 with none recorded) tell their own keys. Contacts with no import are looked for
    only when the imports' counts leave some out: no index finds them, so on an imported
    campaign the search read every contact (0.5-0.7 CPU-s for a million on SQLite), where the
    count reads the campaign's entries of an index (0.03).
    """
    names: dict[str, None] = {}
    recorded: list[tuple[int | None, list[str] | None]] = [
        (int(import_id), columns)
        for import_id, columns in connection.execute(
            select(imports.c.id, imports.c.fields)
            .where(imports.c.campaign_id == campaign_id)
            .order_by(imports.c.id)
        )
    ]
    if _unimported(connection, campaign_id):
        recorded.append((None, None))
    for import_id, columns in recorded:
        condition = (
            contacts.c.import_id.is_(None)
            if import_id is None
            else contacts.c.import_id == import_id
        )
        fields = connection.execute(
            select(contacts.c.fields)
            .where(contacts.c.campaign_id == campaign_id, condition)
            .limit(1)
        ).scalar()
        if fields is not None:
            names.update(dict.fromkeys(columns if columns is not None else fields))
    for (fields,) in connection.execute(
        select(import_rejects.c.fields)
        .where(import_rejects.c.campaign_id == campaign_id)
        .order_by(import_rejects.c.id)
        .execution_options(stream_results=True, yield_per=BATCH)
    ):
        names.update(dict.fromkeys(sorted(fields, key=_EXTRA.__eq__)))
    return list(names)


_EXTRA = "_extra"  # a rejected row's values past the header's width (`importer._rejects`)


def _unimported(connection: Connection, campaign_id: int) -> bool:
    """Whether the campaign has more contacts than its imports brought in (imported and
    suppressed): contacts made some other way, with no import."""
    brought = connection.execute(
        select(func.coalesce(func.sum(imports.c.imported + imports.c.suppressed), 0)).where(
            imports.c.campaign_id == campaign_id
        )
    ).scalar_one()
    total = connection.execute(
        select(func.count()).where(contacts.c.campaign_id == campaign_id)
    ).scalar_one()
    return int(total) > int(brought)


def import_fields(connection: Connection, campaign_id: int) -> dict[int, list[str]]:
    """The columns each of the campaign's imports recorded (`imports.fields`), by import id."""
    rows = connection.execute(
        select(imports.c.id, imports.c.fields).where(
            imports.c.campaign_id == campaign_id, imports.c.fields.is_not(None)
        )
    )
    return {int(import_id): list(columns) for import_id, columns in rows}


def import_files(connection: Connection, campaign_id: int) -> dict[int, str]:
    rows = connection.execute(
        select(imports.c.id, imports.c.file_name).where(imports.c.campaign_id == campaign_id)
    )
    return {int(import_id): str(name) for import_id, name in rows}


def suppression_reason(connection: Connection, neutralise: bool) -> ColumnElement[Any]:
    """Why a suppressed contact is not called: its do-not-call entry, the campaign's own before
    the global one (each found by its unique index: one entry or none)."""

    def entry(campaign: ColumnElement[bool]) -> ColumnElement[Any]:
        reason = func.coalesce(suppressions.c.reason, suppressions.c.source)
        return (
            select(text_cell(connection, reason, neutralise))
            .where(suppressions.c.phone == contacts.c.phone, campaign)
            .scalar_subquery()
        )

    found = func.coalesce(
        entry(suppressions.c.campaign_id == contacts.c.campaign_id),
        entry(suppressions.c.campaign_id.is_(None)),
    )
    return case((contacts.c.state == ContactState.SUPPRESSED.value, found), else_=None)


def whole_fields(connection: Connection, fields: Sequence[str]) -> bool:
    """Whether the contacts' fields must be read whole and picked apart in Python: a SQLite JSON
    path cannot name a key with a double quote or a backslash in it (it finds nothing)."""
    return connection.dialect.name == "sqlite" and any('"' in n or "\\" in n for n in fields)


def contact_query(
    connection: Connection,
    campaign_id: int,
    fields: Sequence[str],
    filters: Filters,
    *,
    neutralise: bool = False,
) -> Select[Any]:
    """One row per contact, in phone-number order (the order of the campaign's unique index:
    no sort), with the `CONTACT_COLUMNS` of `exports`, the import's id in place of its file
    name; then the CSV's own fields, or the whole fields object when `whole_fields`."""

    def free(column: Any) -> ColumnElement[Any]:
        return text_cell(connection, column, neutralise)

    def when(column: Any) -> ColumnElement[Any]:
        return iso_text(connection, column)

    query = (
        select(
            contacts.c.phone,
            free(contacts.c.phone_raw),
            contacts.c.state,
            contacts.c.last_outcome,
            suppression_reason(connection, neutralise),
            contacts.c.attempts,
            when(contacts.c.first_call_at),
            contacts.c.first_call_local,
            when(contacts.c.last_call_at),
            contacts.c.last_call_local,
            when(contacts.c.last_answered_at),
            when(contacts.c.last_ended_at),
            seconds_text(connection, contacts.c.last_answered_at, contacts.c.last_ended_at),
            free(contacts.c.last_dtmf),
            free(contacts.c.response),
            when(contacts.c.responded_at),
            free(contacts.c.last_reason),
            free(contacts.c.first_call_id),
            free(contacts.c.last_call_id),
            free(contacts.c.timezone),
            contacts.c.timezone_source,
            contacts.c.import_id,
            contacts.c.source_row,
            # Neutralised by the caller: in SQL, each field would be extracted three times.
            *(
                [contacts.c.fields]
                if whole_fields(connection, fields)
                else [contacts.c.fields[name].as_string() for name in fields]
            ),
        )
        .select_from(contacts)
        .where(
            contacts.c.campaign_id == campaign_id,
            *time_conditions(contacts.c.last_call_at, filters),
        )
        .order_by(contacts.c.phone)
    )
    states = filters.states - {REJECTED, DUPLICATE}
    if filters.states:
        query = query.where(contacts.c.state.in_(sorted(states)))
    return query


def stream(connection: Connection, query: Select[Any]) -> Iterator[Sequence[Any]]:
    """The rows of `query`, fetched from a server-side cursor in batches."""
    result = connection.execution_options(stream_results=True, yield_per=BATCH).execute(query)
    for batch in result.partitions():
        yield from batch


def reject_rows(
    connection: Connection, campaign_id: int, filters: Filters
) -> Iterator[Sequence[Any]]:
    """(import_id, row_number, phone_raw, reason, is_duplicate, fields) of the rows an import
    left out, unless the filters exclude them (a time filter always does: they were never
    called)."""
    wanted = [duplicate for duplicate in (False, True) if filters.keeps(_reject_state(duplicate))]
    if filters.by_time or not wanted:
        return
    yield from stream(
        connection,
        select(
            import_rejects.c.import_id,
            import_rejects.c.row_number,
            import_rejects.c.phone_raw,
            import_rejects.c.reason,
            import_rejects.c.is_duplicate,
            import_rejects.c.fields,
        )
        .where(
            import_rejects.c.campaign_id == campaign_id,
            import_rejects.c.is_duplicate.in_(wanted),
        )
        .order_by(import_rejects.c.id),
    )


def _reject_state(duplicate: bool) -> str:
    return DUPLICATE if duplicate else REJECTED


SAMPLED = 100  # numbers a sample needs before its median stands for the middle


def middle_phone(
    connection: Connection, campaign_id: int, split_from: int, sample_percent: float = 1
) -> str | None:
    """The number that starts the second half of the campaign's contacts, when it has at least
    `split_from` of them (read on the unique (campaign_id, phone) index).

    Any number splits the contacts correctly; the middle only shares the work evenly. On
    PostgreSQL it is the median of the numbers on `sample_percent` of the table's pages
    (`TABLESAMPLE`), instead of a count and an offset on the index (~0.3 s for a million)."""
    numbers = select(contacts.c.phone).where(contacts.c.campaign_id == campaign_id)
    total = connection.execute(
        select(func.count()).select_from(numbers.limit(split_from).subquery())
    ).scalar_one()
    if total < split_from:
        return None
    if connection.dialect.name == "postgresql":
        sample = contacts.tablesample(func.system(sample_percent))
        sampled, median = connection.execute(
            select(func.count(), func.percentile_disc(0.5).within_group(sample.c.phone)).where(
                sample.c.campaign_id == campaign_id
            )
        ).one()
        if sampled >= SAMPLED:
            return str(median)
    total = connection.execute(
        select(func.count()).where(contacts.c.campaign_id == campaign_id)
    ).scalar_one()
    middle: str | None = connection.execute(
        numbers.order_by(contacts.c.phone).offset(total // 2).limit(1)
    ).scalar()
    return middle


# --- Attempt rows --------------------------------------------------------------------------------


def attempt_query(
    connection: Connection,
    campaign_id: int,
    filters: Filters,
    *,
    neutralise: bool = False,
    when: Callable[[Any], ColumnElement[Any]] | None = None,
) -> Select[Any]:
    """One row per call: the `ATTEMPT_COLUMNS` of `exports`. `when`: how a time is written
    (`iso_text` by default)."""

    def free(column: Any) -> ColumnElement[Any]:
        return text_cell(connection, column, neutralise)

    def time(column: Any) -> ColumnElement[Any]:
        return when(column) if when is not None else iso_text(connection, column)

    query = (
        select(
            contacts.c.phone,
            attempts.c.attempt_number,
            attempts.c.provider,
            free(attempts.c.provider_call_id),
            attempts.c.correlation_key,
            time(attempts.c.requested_at),
            attempts.c.requested_local,
            time(attempts.c.answered_at),
            time(attempts.c.ended_at),
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


# --- Chart data ----------------------------------------------------------------------------------


def attempts_histogram(connection: Connection, campaign_id: int) -> dict[int, int]:
    """Contacts by how many calls they were given."""
    rows = connection.execute(
        select(contacts.c.attempts, func.count())
        .where(contacts.c.campaign_id == campaign_id)
        .group_by(contacts.c.attempts)
        .order_by(contacts.c.attempts)
    )
    return {int(calls): count for calls, count in rows}


@dataclass(frozen=True)
class ReasonCount:
    reason: str  # the provider's words; "(none given)" when it gave none
    outcome: str  # an Outcome, or "in flight"
    calls: int


NO_REASON = "(none given)"
IN_FLIGHT = "in flight"


def reasons(connection: Connection, campaign_id: int) -> list[ReasonCount]:
    """Calls by the provider's reason and our outcome, most frequent first."""
    rows = connection.execute(
        select(attempts.c.provider_reason, attempts.c.outcome, func.count().label("calls"))
        .where(attempts.c.campaign_id == campaign_id)
        .group_by(attempts.c.provider_reason, attempts.c.outcome)
    )
    found = [
        ReasonCount(reason or NO_REASON, outcome or IN_FLIGHT, calls)
        for reason, outcome, calls in rows
    ]
    return sorted(found, key=lambda item: (-item.calls, item.reason, item.outcome))


@dataclass(frozen=True)
class Timeline:
    """Calls by the time they were placed, in buckets of `step`, by outcome."""

    start: datetime | None
    step: timedelta
    buckets: dict[int, Counter[str]]  # bucket index from `start` -> outcome -> calls


# From ten seconds (a test campaign) to a week (a long one).
_STEPS = [
    timedelta(seconds=seconds)
    for seconds in (10, 30, 60, 300, 900, 1800, 3600, 10800, 21600, 43200, 86400, 604800)
]


def timeline(connection: Connection, campaign_id: int, most: int = 48) -> Timeline:
    """Calls over time, in the smallest step that gives at most `most` buckets."""
    first, last = connection.execute(
        select(func.min(attempts.c.requested_at), func.max(attempts.c.requested_at)).where(
            attempts.c.campaign_id == campaign_id
        )
    ).one()
    if first is None or last is None:
        return Timeline(None, _STEPS[0], {})
    span = last - first
    step = next((s for s in _STEPS if span / s < most), _STEPS[-1])
    size = int(step.total_seconds())
    start_epoch = int(first.timestamp()) // size * size
    bucket = (epoch_seconds(connection, attempts.c.requested_at) - start_epoch) // size
    rows = connection.execute(
        select(cast(bucket, Integer).label("bucket"), attempts.c.outcome, func.count())
        .where(attempts.c.campaign_id == campaign_id)
        .group_by(literal_column("bucket"), attempts.c.outcome)
    )
    buckets: dict[int, Counter[str]] = {}
    for index, outcome, calls in rows:
        buckets.setdefault(int(index), Counter())[outcome or IN_FLIGHT] += calls
    return Timeline(datetime.fromtimestamp(start_epoch, UTC), step, buckets)


def local_hours(connection: Connection, campaign_id: int) -> list[HourRate]:
    """Calls placed and delivered in each hour of the callee's own day (0-23).

    The hour of each call's local time as the dialer recorded it (`requested_local`, the same
    text as the exports' local times), counted by the database; a call in a zone Python did not
    know (no local time) counts in its UTC hour.
    """
    local = attempts.c.requested_local
    utc_hour = epoch_seconds(connection, attempts.c.requested_at) // 3600 % 24
    delivered = func.sum(case((attempts.c.outcome == Outcome.DELIVERED.value, 1), else_=0))
    rows = connection.execute(
        select(
            func.substr(local, 12, 2).label("hour"),
            case((local.is_(None), cast(utc_hour, Integer))).label("utc_hour"),
            func.count(),
            delivered,
        )
        .where(attempts.c.campaign_id == campaign_id)
        .group_by(literal_column("hour"), literal_column("utc_hour"))
    )
    calls = [0] * 24
    reached = [0] * 24
    for local_hour, unknown_zone_hour, count, good in rows:
        hour = int(local_hour if local_hour is not None else unknown_zone_hour)
        calls[hour] += count
        reached[hour] += int(good)
    return [HourRate(hour, calls[hour], reached[hour]) for hour in range(24)]


def not_called_reasons(connection: Connection, campaign_id: int) -> list[tuple[str, str, int]]:
    """(state, reason, count) of the rows never dialled on purpose: suppressed contacts, and
    rows an import rejected or found duplicate."""
    found: list[tuple[str, str, int]] = []
    suppressed = select(suppression_reason(connection, False).label("reason")).where(
        contacts.c.campaign_id == campaign_id,
        contacts.c.state == ContactState.SUPPRESSED.value,
    )
    inner = suppressed.subquery()
    for reason, count in connection.execute(
        select(inner.c.reason, func.count()).group_by(inner.c.reason)
    ):
        found.append((ContactState.SUPPRESSED.value, reason or "on the do-not-call list", count))
    for duplicate, reason, count in connection.execute(
        select(import_rejects.c.is_duplicate, import_rejects.c.reason, func.count())
        .where(import_rejects.c.campaign_id == campaign_id)
        .group_by(import_rejects.c.is_duplicate, import_rejects.c.reason)
    ):
        found.append((_reject_state(bool(duplicate)), reason, count))
    return sorted(found, key=lambda item: (-item[2], item[0], item[1]))


def pending_zones(connection: Connection, campaign_id: int) -> Mapping[str, int]:
    """Pending contacts by time zone (for the next window opening)."""
    rows = connection.execute(
        select(contacts.c.timezone, func.count())
        .where(
            contacts.c.campaign_id == campaign_id,
            contacts.c.state == ContactState.PENDING.value,
        )
        .group_by(contacts.c.timezone)
    )
    return {str(zone): int(count) for zone, count in rows}
