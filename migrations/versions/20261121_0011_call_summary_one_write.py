"""One write of the contact per change of its call summary (PostgreSQL): migration 0010's insert,
"last" and "first" triggers on attempts become one function for inserts and one for updates.

With a trigger per summary, a contact's only attempt, both its first and its last, wrote the
contact row twice on its insert and twice again when its call id arrived: two row versions, two
sets of index entries, two runs of a PL/pgSQL function, on the dialer's hot path (the scale
benchmark: 7 contact row writes a call, 4 of them by these triggers). Each function now decides
which summaries the attempt feeds, then writes the contact once. What is copied, and when, is
0010's: the values of the contact's highest attempt_number (last) and lowest (first), on insert
and on every change of a copied value. SQLite keeps 0010's triggers: one UPDATE each, no
procedural language to merge them in.

Revision ID: 0011
Revises: 0008
Create Date: 2026-11-21 20:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Contact column <- attempt column (as in 0010).
_LAST = {
    "last_call_at": "requested_at",
    "last_call_id": "provider_call_id",
    "last_answered_at": "answered_at",
    "last_ended_at": "ended_at",
    "last_dtmf": "dtmf",
    "last_reason": "provider_reason",
}
_FIRST = {"first_call_at": "requested_at", "first_call_id": "provider_call_id"}

_IS_LAST = (
    "NOT EXISTS (SELECT 1 FROM attempts AS later WHERE later.contact_id = NEW.contact_id "
    "AND later.attempt_number > NEW.attempt_number)"
)
_IS_FIRST = (
    "NOT EXISTS (SELECT 1 FROM attempts AS earlier WHERE earlier.contact_id = NEW.contact_id "
    "AND earlier.attempt_number < NEW.attempt_number)"
)


def _changed(columns: dict[str, str]) -> str:
    return " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in columns.values())


def _set(*summaries: dict[str, str]) -> str:
    values = ", ".join(
        f"{name} = NEW.{source}" for columns in summaries for name, source in columns.items()
    )
    return f"UPDATE contacts SET {values} WHERE id = NEW.contact_id;"


def _copy(copy_last: str, copy_first: str) -> str:
    """A trigger function's body: write the summaries the flags name, in one UPDATE."""
    return (
        f"DECLARE copy_last boolean := {copy_last}; copy_first boolean := {copy_first}; "
        f"BEGIN IF copy_last AND copy_first THEN {_set(_LAST, _FIRST)} "
        f"ELSIF copy_last THEN {_set(_LAST)} ELSIF copy_first THEN {_set(_FIRST)} END IF; "
        "RETURN NULL; END"
    )


def _function(name: str, body: str) -> str:
    return f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ {body} $$"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in ("insert", "last", "first"):
        op.execute(f"DROP TRIGGER attempts_call_summary_{name} ON attempts")
    for name in ("both", "last", "first"):
        op.execute(f"DROP FUNCTION attempts_call_summary_{name}()")
    op.execute(_function("attempts_call_summary_insert", _copy(_IS_LAST, _IS_FIRST)))
    op.execute(
        _function(
            "attempts_call_summary_update",
            _copy(f"({_changed(_LAST)}) AND {_IS_LAST}", f"({_changed(_FIRST)}) AND {_IS_FIRST}"),
        )
    )
    op.execute(
        "CREATE TRIGGER attempts_call_summary_insert AFTER INSERT ON attempts "
        "FOR EACH ROW EXECUTE FUNCTION attempts_call_summary_insert()"
    )
    op.execute(
        "CREATE TRIGGER attempts_call_summary_update AFTER UPDATE ON attempts FOR EACH ROW "
        f"WHEN ({_changed(_LAST)} OR {_changed(_FIRST)}) "
        "EXECUTE FUNCTION attempts_call_summary_update()"
    )


def downgrade() -> None:
    """0010's triggers, one per summary."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in ("insert", "update"):
        op.execute(f"DROP TRIGGER attempts_call_summary_{name} ON attempts")
        op.execute(f"DROP FUNCTION attempts_call_summary_{name}()")
    set_last = _set(_LAST).replace(";", f" AND {_IS_LAST};")
    set_first = _set(_FIRST).replace(";", f" AND {_IS_FIRST};")
    for name, body in {
        "both": f"{set_last} {set_first}",
        "last": set_last,
        "first": set_first,
    }.items():
        op.execute(_function(f"attempts_call_summary_{name}", f"BEGIN {body} RETURN NULL; END"))
    op.execute(
        "CREATE TRIGGER attempts_call_summary_insert AFTER INSERT ON attempts "
        "FOR EACH ROW EXECUTE FUNCTION attempts_call_summary_both()"
    )
    for name, columns in (("last", _LAST), ("first", _FIRST)):
        op.execute(
            f"CREATE TRIGGER attempts_call_summary_{name} AFTER UPDATE ON attempts "
            f"FOR EACH ROW WHEN ({_changed(columns)}) "
            f"EXECUTE FUNCTION attempts_call_summary_{name}()"
        )
