"""Keypress responses, opt-out source, and the outcome-notification outbox (issue 6).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 13:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("response_keys", _JSON, nullable=True))
    op.add_column("campaigns", sa.Column("opt_out_key", sa.Text(), nullable=True))
    op.add_column("campaigns", sa.Column("key_timeout", sa.Integer(), nullable=True))
    op.add_column(
        "campaigns",
        sa.Column(
            "replay_on_no_input", sa.Boolean(), nullable=False, server_default=sa.text("false")
        ),
    )
    op.add_column("campaigns", sa.Column("notify_url", sa.Text(), nullable=True))
    op.add_column("contacts", sa.Column("response", sa.Text(), nullable=True))
    op.add_column("contacts", sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("suppressions", sa.Column("source_campaign_id", sa.Integer(), nullable=True))

    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Text(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_notifications_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_notifications_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("notification_id", name=op.f("uq_notifications_notification_id")),
    )
    op.create_index(
        "ix_notifications_undelivered",
        "notifications",
        ["next_attempt_at"],
        unique=False,
        sqlite_where=sa.text("delivered_at IS NULL"),
        postgresql_where=sa.text("delivered_at IS NULL"),
    )
    op.create_index(
        op.f("ix_notifications_campaign_id"), "notifications", ["campaign_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_notifications_campaign_id"), table_name="notifications")
    op.drop_index(
        "ix_notifications_undelivered",
        table_name="notifications",
        sqlite_where=sa.text("delivered_at IS NULL"),
        postgresql_where=sa.text("delivered_at IS NULL"),
    )
    op.drop_table("notifications")
    with op.batch_alter_table("suppressions") as batch:
        batch.drop_column("source_campaign_id")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("responded_at")
        batch.drop_column("response")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("notify_url")
        batch.drop_column("replay_on_no_input")
        batch.drop_column("key_timeout")
        batch.drop_column("opt_out_key")
        batch.drop_column("response_keys")
