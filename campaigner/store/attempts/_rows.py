"""Attempt rows held in memory while a transaction changes them, and the SQL they share."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update

from ...db.schema import attempts
from ...model import Outcome, Provider
from ...providers import CallEvent, Progress, settle_outcome
from ._bulk import BulkStatement

# Ids per IN (...) list: well under SQLite's and PostgreSQL's limits on bound parameters.
CHUNK = 500
# pg_advisory_xact_lock key shared by every transaction that changes attempts from events.
ADVISORY_LOCK_KEY = 0x63616D70  # "camp"


ATTEMPT_COLUMNS = (
    attempts.c.id,
    attempts.c.contact_id,
    attempts.c.campaign_id,
    attempts.c.attempt_number,
    attempts.c.provider,
    attempts.c.correlation_key,
    attempts.c.provider_call_id,
    attempts.c.progress,
    attempts.c.outcome,
    attempts.c.answered_at,
    attempts.c.ended_at,
    attempts.c.dtmf,
    attempts.c.provider_reason,
    attempts.c.error,
)
_MUTABLE = (
    "provider_call_id",
    "progress",
    "outcome",
    "answered_at",
    "ended_at",
    "dtmf",
    "provider_reason",
    "error",
)
# The UPDATE of attempts that sets these columns (a tuple of _MUTABLE names), by its columns.
_UPDATES: dict[tuple[str, ...], BulkStatement] = {}


class LiveAttempt:
    """An attempt row being changed in memory; written back once per transaction."""

    __slots__ = (
        "_stored",
        "answered_at",
        "attempt_number",
        "campaign_id",
        "contact_id",
        "correlation_key",
        "dtmf",
        "dtmf_before",
        "ended_at",
        "error",
        "id",
        "outcome",
        "outcome_before",
        "progress",
        "provider",
        "provider_call_id",
        "provider_reason",
    )

    def __init__(self, row: Sequence[Any]) -> None:
        """`row` holds ATTEMPT_COLUMNS, in their order."""
        self.id: int = row[0]
        self.contact_id: int = row[1]
        self.campaign_id: int = row[2]
        self.attempt_number: int = row[3]
        self.provider = Provider(row[4])
        self.correlation_key: str = row[5]
        self.provider_call_id: str | None = row[6]
        self.progress = Progress(row[7])
        self.outcome: Outcome | None = Outcome(row[8]) if row[8] else None
        self.answered_at: datetime | None = row[9]
        self.ended_at: datetime | None = row[10]
        self.dtmf: str | None = row[11]
        self.provider_reason: str | None = row[12]
        self.error: str | None = row[13]
        self.outcome_before = self.outcome
        self.dtmf_before = self.dtmf
        self._stored = self._values()

    def _values(self) -> tuple[Any, ...]:
        """The columns this module may change, in _MUTABLE's order."""
        return (
            self.provider_call_id,
            self.progress,
            self.outcome,
            self.answered_at,
            self.ended_at,
            self.dtmf,
            self.provider_reason,
            self.error,
        )

    @property
    def changed(self) -> bool:
        return self._values() != self._stored

    def apply(self, event: CallEvent, now: datetime) -> bool:
        """Take one event into account; whether it changed anything."""
        before = self._values()
        at = event.occurred_at or now
        outcome = settle_outcome(self.outcome, self.progress, event)
        progress = Progress.furthest(self.progress, event.progress)
        newly_settled = self.outcome is None and outcome is not None
        if self.answered_at is None and (
            (event.progress is not None and event.progress.shows_answer)
            or (outcome is Outcome.DELIVERED and outcome is not self.outcome)
        ):
            self.answered_at = at
        if progress is Progress.ENDED and self.progress is not Progress.ENDED:
            self.ended_at = at  # the hang-up: when the call really ended
        elif newly_settled and self.ended_at is None:
            self.ended_at = at
        if outcome is not self.outcome:
            self.provider_reason = event.provider_reason
        if event.dtmf:
            self.dtmf = event.dtmf
        self.outcome = outcome
        self.progress = progress
        return self._values() != before

    def changes(self) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        """The columns changed since the row was read, and their new values as stored."""
        names: list[str] = []
        values: list[Any] = []
        for name, value, stored in zip(_MUTABLE, self._values(), self._stored, strict=True):
            if value != stored:
                names.append(name)
                values.append(value.value if isinstance(value, Enum) else value)
        return tuple(names), tuple(values)


def serialise(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY)))


def chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


class AttemptLookup:
    """Attempts whose `column` is one of the values given, by that value, and that meet
    `conditions` (bound parameters in them are given to the call by name).

    One statement, built once: SQLAlchemy then finds its compiled form by a cache key it keeps,
    and only expands the IN list per call. Built per call, the statement's construction and cache
    key cost about twice the query itself on SQLite (the receiver and the journal look attempts up
    in every batch).
    """

    def __init__(self, column: Any, *conditions: Any) -> None:
        self._position = [c.name for c in ATTEMPT_COLUMNS].index(column.name)
        self._statement = select(*ATTEMPT_COLUMNS).where(
            column.in_(bindparam("values", expanding=True)), *conditions
        )

    def __call__(
        self, conn: Connection, values: Iterable[Any], **params: Any
    ) -> dict[Any, LiveAttempt]:
        found: dict[Any, LiveAttempt] = {}
        position = self._position
        for chunk in chunks(list(dict.fromkeys(values))):
            for row in conn.execute(self._statement, {"values": chunk, **params}):
                found[row[position]] = LiveAttempt(row)
        return found


def write_attempts(conn: Connection, changed: Sequence[LiveAttempt]) -> None:
    """Write back what changed: each UPDATE sets only the columns it changes, one statement per
    set of columns. SQLite rewrites the index entries of every column an UPDATE sets, changed or
    not: setting the indexed call id and outcome to what they were made a row's update about three
    times as costly as leaving them out (an event that only moves a call's progress on)."""
    rows: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for attempt in changed:
        names, values = attempt.changes()
        if names:
            rows.setdefault(names, []).append((*values, attempt.id))
    for names, batch in rows.items():
        _update_setting(names).execute(conn, batch)


def _update_setting(names: tuple[str, ...]) -> BulkStatement:
    statement = _UPDATES.get(names)
    if statement is None:
        binds = tuple(f"a_{name}" for name in names)
        statement = _UPDATES[names] = BulkStatement(
            update(attempts)
            .where(attempts.c.id == bindparam("a_id"))
            .values({name: bindparam(bind) for name, bind in zip(names, binds, strict=True)}),
            (*binds, "a_id"),
        )
    return statement
