"""Access control: identity links that the role holder confirms (at most one per account),
invites that can be revoked; dialogs set aside (parked) when the user goes elsewhere.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Links made before this revision were never confirmed by the account holding the roles
    # (a code sent by someone else could hand their roles over): undo them all, audited; people
    # link again with the confirmed flow. This also leaves at most one link per account.
    op.execute(
        "INSERT INTO audit_log (created_at, actor_user_id, action, target, details) "
        "SELECT CURRENT_TIMESTAMP, NULL, 'identity.unlink', 'user:' || id, "
        "'{\"other_user\": ' || linked_user_id || ', \"by\": \"migration 0014\", "
        "\"reason\": \"link made without the role holder confirming\"}' "
        "FROM users WHERE linked_user_id IS NOT NULL")
    op.execute("UPDATE users SET linked_user_id = NULL WHERE linked_user_id IS NOT NULL")
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
