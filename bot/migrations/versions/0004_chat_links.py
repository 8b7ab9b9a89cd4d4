"""Groups linked to an org unit.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chats") as batch:
        batch.add_column(sa.Column("org_unit_id", sa.Integer()))
        batch.add_column(sa.Column("linked_by", sa.Integer()))
        batch.add_column(sa.Column("linked_at", sa.DateTime(timezone=True)))
        batch.create_foreign_key("fk_chats_org_unit_id_org_units", "org_units",
                                 ["org_unit_id"], ["id"], ondelete="SET NULL")
        batch.create_foreign_key("fk_chats_linked_by_users", "users",
                                 ["linked_by"], ["id"], ondelete="SET NULL")
        batch.create_index("ix_chats_org_unit_id", ["org_unit_id"])


def downgrade() -> None:
    with op.batch_alter_table("chats") as batch:
        batch.drop_index("ix_chats_org_unit_id")
        batch.drop_constraint("fk_chats_linked_by_users", type_="foreignkey")
        batch.drop_constraint("fk_chats_org_unit_id_org_units", type_="foreignkey")
        batch.drop_column("linked_at")
        batch.drop_column("linked_by")
        batch.drop_column("org_unit_id")
