"""Drop the foreign key from contacts.campaign_id: it cost every imported row (issue 2's speed).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 13:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_constraint("fk_contacts_campaign_id_campaigns", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.create_foreign_key(
            "fk_contacts_campaign_id_campaigns",
            "campaigns",
            ["campaign_id"],
            ["id"],
            ondelete="CASCADE",
        )
