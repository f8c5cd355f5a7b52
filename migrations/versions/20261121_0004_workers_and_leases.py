"""Workers and their leases, and the shared calls-per-second budget (issue 5).

Attempts name the worker that holds them and when their request may first have left. Attempts
live before this revision are marked as possibly sent: they were claimed by a dialer that kept no
such record, so they are never put back in the queue, only settled or reconciled.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("attempts", sa.Column("worker_id", sa.Integer(), nullable=True))
    op.add_column("attempts", sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE attempts SET sent_at = requested_at WHERE outcome IS NULL")
    op.create_table(
        "workers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("pid_space", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stop_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_workers_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workers")),
    )
    op.create_index(
        op.f("ix_workers_campaign_id_stopped_at"),
        "workers",
        ["campaign_id", "stopped_at"],
        unique=False,
    )
    op.create_table(
        "pace_slots",
        sa.Column("campaign_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("epoch_second", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.Column("granted", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "epoch_second", name=op.f("pk_pace_slots")),
    )


def downgrade() -> None:
    op.drop_table("pace_slots")
    op.drop_index(op.f("ix_workers_campaign_id_stopped_at"), table_name="workers")
    op.drop_table("workers")
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("sent_at")
        batch.drop_column("worker_id")
