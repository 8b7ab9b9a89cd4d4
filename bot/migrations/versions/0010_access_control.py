"""Access control: identity links that the role holder confirms (at most one per account),
invites that can be revoked; dialogs set aside (parked) when the user goes elsewhere.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # An account could collect links from many people: keep the oldest link to each account
    # and drop the others before the unique index makes that impossible.
    op.execute(
        "UPDATE users SET linked_user_id = NULL WHERE linked_user_id IS NOT NULL AND id > "
        "(SELECT MIN(u2.id) FROM users u2 WHERE u2.linked_user_id = users.linked_user_id)")
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_linked_user_id")
        batch.create_index("ix_users_linked_user_id", ["linked_user_id"], unique=True)
    with op.batch_alter_table("link_codes") as batch:
        batch.add_column(sa.Column("claimed_by", sa.Integer()))
        batch.add_column(sa.Column("status", sa.String(16), nullable=False,
                                   server_default="open"))
        batch.add_column(sa.Column("owner_ok", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("claimer_ok", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.create_foreign_key("fk_link_codes_claimed_by_users", "users",
                                 ["claimed_by"], ["id"], ondelete="CASCADE")
    op.execute("UPDATE link_codes SET status = 'linked' WHERE used_at IS NOT NULL")
    with op.batch_alter_table("invites") as batch:
        batch.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True)))
    with op.batch_alter_table("dialog_states") as batch:
        batch.add_column(sa.Column("parked", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("dialog_states") as batch:
        batch.drop_column("parked")
    with op.batch_alter_table("invites") as batch:
        batch.drop_column("revoked_at")
    with op.batch_alter_table("link_codes") as batch:
        batch.drop_constraint("fk_link_codes_claimed_by_users", type_="foreignkey")
        batch.drop_column("claimer_ok")
        batch.drop_column("owner_ok")
        batch.drop_column("status")
        batch.drop_column("claimed_by")
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_linked_user_id")
        batch.create_index("ix_users_linked_user_id", ["linked_user_id"])
