"""Drop the foreign keys from import_rejects (to imports and to campaigns): they cost every rejected
or duplicate row of an import (issue 2's speed).

Only an import writes these rows, with the id of the run it has just recorded in the same
transaction and of the campaign it has just read; runs and campaigns are never deleted. On
PostgreSQL each key was a query per row: 60,000 rows of the 1M-row benchmark cost the server
0.96-1.23 CPU-s with them, 0.37-0.39 without (benchmarks/RESULTS.md).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22 02:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Constraint name -> (column, referred table).
_KEYS = {
    "fk_import_rejects_import_id_imports": ("import_id", "imports"),
    "fk_import_rejects_campaign_id_campaigns": ("campaign_id", "campaigns"),
}


def upgrade() -> None:
    with op.batch_alter_table("import_rejects") as batch:
        for name in _KEYS:
            batch.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("import_rejects") as batch:
        for name, (column, table) in _KEYS.items():
            batch.create_foreign_key(name, table, [column], ["id"], ondelete="CASCADE")
