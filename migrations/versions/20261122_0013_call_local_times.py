"""Each call's local time recorded when it is placed (issue 4's CSV at 300,000 rows/s).

`attempts.requested_local` is the call's time in the contact's zone as the dialer saw it when it
placed the call, under the zone rules of that moment: `2026-11-20T09:03:09-05:00`, the wall time
to the second (the fraction dropped) with its UTC offset, as the reports print it. NULL only when
Python's zone database does not know the contact's zone. The reports read it, and the contact's
`first_call_local` / `last_call_local`, copied by the call-summary triggers exactly as
`first_call_at` / `last_call_at` are (0010's on SQLite, 0011's functions on PostgreSQL,
recreated here with the new columns), instead of working every local time out at each export
from the zones' offsets over the campaign (a scan of its contacts, then a CASE over zones per
cell: about a fifth of SQLite's CSV statement).

Existing calls get theirs from Python's zone database as it is now, in batches of `_BATCH` (the
rules at the time of the upgrade, which for past calls are the rules they were placed under,
unless the database has changed since).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-22 05:30:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 10_000  # attempts read and written at a time by the backfill

# Contact column <- attempt column, as in 0010 and 0011.
_LAST = {
    "last_call_at": "requested_at",
    "last_call_id": "provider_call_id",
    "last_answered_at": "answered_at",
    "last_ended_at": "ended_at",
    "last_dtmf": "dtmf",
    "last_reason": "provider_reason",
}
_FIRST = {"first_call_at": "requested_at", "first_call_id": "provider_call_id"}
# And with the local times.
_LAST_LOCAL = {**_LAST, "last_call_local": "requested_local"}
_FIRST_LOCAL = {**_FIRST, "first_call_local": "requested_local"}

_IS_LAST = (
    "NOT EXISTS (SELECT 1 FROM attempts AS later WHERE later.contact_id = NEW.contact_id "
    "AND later.attempt_number > NEW.attempt_number)"
)
_IS_FIRST = (
    "NOT EXISTS (SELECT 1 FROM attempts AS earlier WHERE earlier.contact_id = NEW.contact_id "
    "AND earlier.attempt_number < NEW.attempt_number)"
)
_SQLITE_TRIGGERS = ("insert", "last", "first", "delete")


def _changed(columns: dict[str, str], operator: str = "IS DISTINCT FROM") -> str:
    return " OR ".join(f"NEW.{c} {operator} OLD.{c}" for c in dict.fromkeys(columns.values()))


def _set(*summaries: dict[str, str]) -> str:
    values = ", ".join(
        f"{name} = NEW.{source}" for columns in summaries for name, source in columns.items()
    )
    return f"UPDATE contacts SET {values} WHERE id = NEW.contact_id"


def _recomputed(last: dict[str, str], first: dict[str, str]) -> str:
    """Every summary column from the contact's remaining attempts (a claim undone)."""

    def pick(source: str, order: str) -> str:
        return (
            f"(SELECT {source} FROM attempts WHERE contact_id = OLD.contact_id "
            f"ORDER BY attempt_number {order} LIMIT 1)"
        )

    values = [f"{name} = {pick(source, 'DESC')}" for name, source in last.items()]
    values += [f"{name} = {pick(source, 'ASC')}" for name, source in first.items()]
    return f"UPDATE contacts SET {', '.join(values)} WHERE id = OLD.contact_id"


def _sqlite_triggers(last: dict[str, str], first: dict[str, str]) -> None:
    """0010's triggers, copying the summaries `last` and `first`."""
    set_last = f"{_set(last)} AND {_IS_LAST}"
    set_first = f"{_set(first)} AND {_IS_FIRST}"
    # SQLite's IS NOT compares NULLs as values, as IS DISTINCT FROM does.
    op.execute(
        "CREATE TRIGGER attempts_call_summary_insert AFTER INSERT ON attempts BEGIN "
        f"{set_last}; {set_first}; END"
    )
    op.execute(
        "CREATE TRIGGER attempts_call_summary_last AFTER UPDATE ON attempts "
        f"WHEN {_changed(last, 'IS NOT')} BEGIN {set_last}; END"
    )
    op.execute(
        "CREATE TRIGGER attempts_call_summary_first AFTER UPDATE ON attempts "
        f"WHEN {_changed(first, 'IS NOT')} BEGIN {set_first}; END"
    )
    op.execute(
        "CREATE TRIGGER attempts_call_summary_delete AFTER DELETE ON attempts BEGIN "
        f"{_recomputed(last, first)}; END"
    )


def _copy(last: dict[str, str], first: dict[str, str], copy_last: str, copy_first: str) -> str:
    """0011's trigger function body: write the summaries the flags name, in one UPDATE."""
    return (
        f"DECLARE copy_last boolean := {copy_last}; copy_first boolean := {copy_first}; "
        f"BEGIN IF copy_last AND copy_first THEN {_set(last, first)}; "
        f"ELSIF copy_last THEN {_set(last)}; ELSIF copy_first THEN {_set(first)}; END IF; "
        "RETURN NULL; END"
    )


def _postgresql_functions(last: dict[str, str], first: dict[str, str]) -> None:
    """0011's functions (and 0010's for a delete), copying the summaries `last` and `first`,
    and the update trigger, whose condition names the columns they copy."""
    bodies = {
        "insert": _copy(last, first, _IS_LAST, _IS_FIRST),
        "update": _copy(
            last,
            first,
            f"({_changed(last)}) AND {_IS_LAST}",
            f"({_changed(first)}) AND {_IS_FIRST}",
        ),
        "delete": f"BEGIN {_recomputed(last, first)}; RETURN NULL; END",
    }
    for name, body in bodies.items():
        op.execute(
            f"CREATE OR REPLACE FUNCTION attempts_call_summary_{name}() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ {body} $$"
        )
    op.execute(
        "CREATE TRIGGER attempts_call_summary_update AFTER UPDATE ON attempts FOR EACH ROW "
        f"WHEN ({_changed(last)} OR {_changed(first)}) "
        "EXECUTE FUNCTION attempts_call_summary_update()"
    )


def _drop_triggers(postgresql: bool) -> None:
    """The triggers whose text names the columns copied (all of SQLite's; PostgreSQL's update
    trigger, for its condition: its functions are replaced)."""
    if postgresql:
        op.execute("DROP TRIGGER attempts_call_summary_update ON attempts")
        return
    for name in _SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER attempts_call_summary_{name}")


def _local(moment: datetime | str, zone: ZoneInfo | None) -> str | None:
    """`windows.local_text` of a stored time (SQLite's text, naive UTC)."""
    if zone is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).isoformat(timespec="seconds")


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _backfill_attempts() -> None:
    """Every attempt's local time, `_BATCH` attempts at a time in id order."""
    connection = op.get_bind()
    read = sa.text(
        "SELECT attempts.id, attempts.requested_at, contacts.timezone FROM attempts "
        "JOIN contacts ON contacts.id = attempts.contact_id "
        "WHERE attempts.id > :after ORDER BY attempts.id LIMIT :size"
    )
    write = sa.text("UPDATE attempts SET requested_local = :local WHERE id = :id")
    zones: dict[str, ZoneInfo | None] = {}
    after = 0
    while True:
        rows = connection.execute(read, {"after": after, "size": _BATCH}).all()
        if not rows:
            return
        values = []
        for attempt_id, requested_at, name in rows:
            if name not in zones:
                zones[name] = _zone(name)
            values.append({"id": attempt_id, "local": _local(requested_at, zones[name])})
        connection.execute(write, values)
        after = rows[-1][0]


def _backfill_contacts() -> None:
    for name, pick in (("last_call_local", "max"), ("first_call_local", "min")):
        op.execute(
            f"UPDATE contacts SET {name} = a.requested_local FROM (SELECT contact_id, "
            f"{pick}(attempt_number) AS n FROM attempts GROUP BY contact_id) AS m "
            "JOIN attempts AS a ON a.contact_id = m.contact_id AND a.attempt_number = m.n "
            "WHERE contacts.id = m.contact_id"
        )


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    _drop_triggers(postgresql)
    op.add_column("attempts", sa.Column("requested_local", sa.Text(), nullable=True))
    op.add_column("contacts", sa.Column("first_call_local", sa.Text(), nullable=True))
    op.add_column("contacts", sa.Column("last_call_local", sa.Text(), nullable=True))
    _backfill_attempts()
    _backfill_contacts()
    if postgresql:
        _postgresql_functions(_LAST_LOCAL, _FIRST_LOCAL)
    else:
        _sqlite_triggers(_LAST_LOCAL, _FIRST_LOCAL)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    _drop_triggers(postgresql)
    if postgresql:
        _postgresql_functions(_LAST, _FIRST)
    # SQLite's own DROP COLUMN (3.35), not a batch's copy of the table: dropping the old
    # contacts table would delete their attempts (ON DELETE CASCADE, foreign keys on).
    op.drop_column("contacts", "last_call_local")
    op.drop_column("contacts", "first_call_local")
    op.drop_column("attempts", "requested_local")
    if not postgresql:
        _sqlite_triggers(_LAST, _FIRST)
