"""Each contact's first and last call, kept on the contact row (issue 4's CSV at 300,000 rows/s).

The report's contact rows read the first call's time and provider id, and the last call's time,
answer and end times, digits, reason and provider id. Found by two look-ups into attempts per
contact, they cost more than the rest of the row (PostgreSQL: 5.2 against 2.1 µs of server CPU
a row, and three times the wall time; see benchmarks/RESULTS.md); kept on the contact, the report
is one scan of the campaign's contacts.

The database keeps them: triggers on attempts copy an attempt's values to its contact when it
is the contact's highest attempt_number (last) or lowest (first), on insert, on every change of
those values (a hang-up recorded after the outcome, a late call id) and on delete (a claim
undone). So they agree with attempts at every moment, in every write path, with no statement
added to the dialer's or the receiver's code. Existing calls are copied once here.

Revision ID: 0010
Revises: 0005
Create Date: 2026-11-21 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIMES = ("first_call_at", "last_call_at", "last_answered_at", "last_ended_at")
_TEXTS = ("first_call_id", "last_call_id", "last_dtmf", "last_reason")
_COLUMNS = ("first_call_at", "first_call_id", *_TIMES[1:], "last_call_id", *_TEXTS[2:])

# Contact column <- attempt column.
_LAST = {
    "last_call_at": "requested_at",
    "last_call_id": "provider_call_id",
    "last_answered_at": "answered_at",
    "last_ended_at": "ended_at",
    "last_dtmf": "dtmf",
    "last_reason": "provider_reason",
}
_FIRST = {"first_call_at": "requested_at", "first_call_id": "provider_call_id"}


def _copy(row: str, columns: dict[str, str], other: str, compare: str) -> str:
    """Copy attempt `row`'s values to its contact when no attempt of the contact is `compare`
    than it in number (`>`: it is the last; `<`: the first)."""
    values = ", ".join(f"{name} = {row}.{source}" for name, source in columns.items())
    return (
        f"UPDATE contacts SET {values} WHERE id = {row}.contact_id AND NOT EXISTS ("
        f"SELECT 1 FROM attempts AS {other} WHERE {other}.contact_id = {row}.contact_id "
        f"AND {other}.attempt_number {compare} {row}.attempt_number)"
    )


_SET_LAST = _copy("NEW", _LAST, "later", ">")
_SET_FIRST = _copy("NEW", _FIRST, "earlier", "<")
# Only when a copied value changed: every event rewrites its attempt's row.
_LAST_CHANGED = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in _LAST.values())
_FIRST_CHANGED = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in _FIRST.values())


def _recomputed(contact: str) -> str:
    """Every summary column from the contact's remaining attempts (a claim undone)."""

    def pick(source: str, order: str) -> str:
        return (
            f"(SELECT {source} FROM attempts WHERE contact_id = {contact} "
            f"ORDER BY attempt_number {order} LIMIT 1)"
        )

    values = [f"{name} = {pick(source, 'DESC')}" for name, source in _LAST.items()]
    values += [f"{name} = {pick(source, 'ASC')}" for name, source in _FIRST.items()]
    return f"UPDATE contacts SET {', '.join(values)} WHERE id = {contact}"


def _backfill(columns: dict[str, str], pick: str) -> str:
    values = ", ".join(f"{name} = a.{source}" for name, source in columns.items())
    return (
        f"UPDATE contacts SET {values} FROM (SELECT contact_id, {pick}(attempt_number) AS n "
        "FROM attempts GROUP BY contact_id) AS m JOIN attempts AS a "
        "ON a.contact_id = m.contact_id AND a.attempt_number = m.n WHERE contacts.id = m.contact_id"
    )


def upgrade() -> None:
    for name in _COLUMNS:
        kind = sa.DateTime(timezone=True) if name in _TIMES else sa.Text()
        op.add_column("contacts", sa.Column(name, kind, nullable=True))
    op.execute(_backfill(_LAST, "max"))
    op.execute(_backfill(_FIRST, "min"))
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_triggers()
    else:
        _postgresql_triggers()


def _sqlite_triggers() -> None:
    # SQLite's IS NOT compares NULLs as values, as IS DISTINCT FROM does.
    last_changed = _LAST_CHANGED.replace("IS DISTINCT FROM", "IS NOT")
    first_changed = _FIRST_CHANGED.replace("IS DISTINCT FROM", "IS NOT")
    op.execute(
        "CREATE TRIGGER attempts_call_summary_insert AFTER INSERT ON attempts BEGIN "
        f"{_SET_LAST}; {_SET_FIRST}; END"
    )
    op.execute(
        "CREATE TRIGGER attempts_call_summary_last AFTER UPDATE ON attempts "
        f"WHEN {last_changed} BEGIN {_SET_LAST}; END"
    )
    op.execute(
        "CREATE TRIGGER attempts_call_summary_first AFTER UPDATE ON attempts "
        f"WHEN {first_changed} BEGIN {_SET_FIRST}; END"
    )
    op.execute(
        "CREATE TRIGGER attempts_call_summary_delete AFTER DELETE ON attempts BEGIN "
        f"{_recomputed('OLD.contact_id')}; END"
    )


def _postgresql_triggers() -> None:
    functions = {
        "attempts_call_summary_both": f"{_SET_LAST}; {_SET_FIRST};",
        "attempts_call_summary_last": f"{_SET_LAST};",
        "attempts_call_summary_first": f"{_SET_FIRST};",
        "attempts_call_summary_delete": f"{_recomputed('OLD.contact_id')};",
    }
    for name, body in functions.items():
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {body} RETURN NULL; END $$"
        )
    op.execute(
        "CREATE TRIGGER attempts_call_summary_insert AFTER INSERT ON attempts "
        "FOR EACH ROW EXECUTE FUNCTION attempts_call_summary_both()"
    )
    op.execute(
        "CREATE TRIGGER attempts_call_summary_last AFTER UPDATE ON attempts "
        f"FOR EACH ROW WHEN ({_LAST_CHANGED}) EXECUTE FUNCTION attempts_call_summary_last()"
    )
    op.execute(
        "CREATE TRIGGER attempts_call_summary_first AFTER UPDATE ON attempts "
        f"FOR EACH ROW WHEN ({_FIRST_CHANGED}) EXECUTE FUNCTION attempts_call_summary_first()"
    )
    op.execute(
        "CREATE TRIGGER attempts_call_summary_delete AFTER DELETE ON attempts "
        "FOR EACH ROW EXECUTE FUNCTION attempts_call_summary_delete()"
    )


_TRIGGERS = ("insert", "last", "first", "delete")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in _TRIGGERS:
        op.execute(
            f"DROP TRIGGER attempts_call_summary_{name} ON attempts"
            if postgresql
            else f"DROP TRIGGER attempts_call_summary_{name}"
        )
    if postgresql:
        for name in ("both", "last", "first", "delete"):
            op.execute(f"DROP FUNCTION attempts_call_summary_{name}()")
    with op.batch_alter_table("contacts") as batch:
        for name in reversed(_COLUMNS):
            batch.drop_column(name)
