"""Roles over org subtrees, invite codes, audit log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "role_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("org_unit_id", sa.Integer()),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("granted_by", sa.Integer()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_role_assignments"),
        sa.UniqueConstraint(
            "user_id", "role", "org_unit_id", name="uq_role_assignments_user_id_role_org_unit_id"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name="fk_role_assignments_user_id_users", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["org_unit_id"], ["org_units.id"],
                                name="fk_role_assignments_org_unit_id_org_units",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["granted_by"], ["users.id"],
                                name="fk_role_assignments_granted_by_users", ondelete="SET NULL"),
    )
    op.create_index("ix_role_assignments_user_id", "role_assignments", ["user_id"])
    op.create_table(
        "invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("org_unit_id", sa.Integer(), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_invites"),
        sa.UniqueConstraint("code", name="uq_invites_code"),
        sa.ForeignKeyConstraint(["org_unit_id"], ["org_units.id"],
                                name="fk_invites_org_unit_id_org_units", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name="fk_invites_created_by_users", ondelete="SET NULL"),
    )
    op.create_table(
        "invite_uses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invite_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_invite_uses"),
        sa.UniqueConstraint("invite_id", "user_id", name="uq_invite_uses_invite_id_user_id"),
        sa.ForeignKeyConstraint(["invite_id"], ["invites.id"],
                                name="fk_invite_uses_invite_id_invites", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name="fk_invite_uses_user_id_users", ondelete="CASCADE"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.Integer()),
        sa.Column("action", sa.String(48), nullable=False),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        sa.ForeignKeyConstraint(["actor_user_id"], ["users.id"],
                                name="fk_audit_log_actor_user_id_users", ondelete="SET NULL"),
    )
    op.create_index("ix_audit_log_created_at", "audit_log", ["created_at"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("invite_uses")
    op.drop_table("invites")
    op.drop_table("role_assignments")
