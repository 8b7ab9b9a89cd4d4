"""Linking a person's Telegram and Zalo identities.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("linked_user_id", sa.Integer()))
        batch.create_foreign_key("fk_users_linked_user_id_users", "users",
                                 ["linked_user_id"], ["id"], ondelete="SET NULL")
        batch.create_index("ix_users_linked_user_id", ["linked_user_id"])
    op.create_table(
        "link_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_link_codes"),
        sa.UniqueConstraint("code", name="uq_link_codes_code"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name="fk_link_codes_user_id_users", ondelete="CASCADE"),
    )


def downgrade() -> None:
    op.drop_table("link_codes")
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_linked_user_id")
        batch.drop_constraint("fk_users_linked_user_id_users", type_="foreignkey")
        batch.drop_column("linked_user_id")
