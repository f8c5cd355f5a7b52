"""Events indexed by correlation key and call id only while they are orphans.

Only `match_orphans` looks events up by what they named, and only orphans. Indexing every event's
key and call id cost each stored webhook two inserts at random places in two indexes (and, on
SQLite, the pages they dirtied written to the WAL at each commit). Partial indexes on
`status = 'orphan'` hold only the few events still waiting for their attempt.

Revision ID: 0008
Revises: 0010
Create Date: 2026-11-21 17:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ORPHAN = sa.text("status = 'orphan'")


def upgrade() -> None:
    op.drop_index(op.f("ix_events_provider_provider_call_id"), table_name="events")
    op.drop_index(op.f("ix_events_correlation_key"), table_name="events")
    op.create_index(
        "ix_events_orphan_correlation_key",
        "events",
        ["correlation_key"],
        sqlite_where=_ORPHAN,
        postgresql_where=_ORPHAN,
    )
    op.create_index(
        "ix_events_orphan_provider_call_id",
        "events",
        ["provider", "provider_call_id"],
        sqlite_where=_ORPHAN,
        postgresql_where=_ORPHAN,
    )


def downgrade() -> None:
    op.drop_index("ix_events_orphan_provider_call_id", table_name="events")
    op.drop_index("ix_events_orphan_correlation_key", table_name="events")
    op.create_index(op.f("ix_events_correlation_key"), "events", ["correlation_key"])
    op.create_index(
        op.f("ix_events_provider_provider_call_id"), "events", ["provider", "provider_call_id"]
    )
