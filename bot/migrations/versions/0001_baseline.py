"""Baseline: users, chats, question log.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(255)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("channel", "external_id", name="uq_users_channel_external_id"),
    )
    op.create_table(
        "chats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.String(255)),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_chats"),
        sa.UniqueConstraint("channel", "external_id", name="uq_chats_channel_external_id"),
    )
    op.create_table(
        "question_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("user_id", sa.Integer()),
        sa.Column("chat_id", sa.Integer()),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("normalized", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("entry_id", sa.String(64)),
        sa.Column("score", sa.Float()),
        sa.Column("kb_version", sa.String(32)),
        sa.PrimaryKeyConstraint("id", name="pk_question_log"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_question_log_user_id_users", ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name="fk_question_log_chat_id_chats", ondelete="SET NULL"
        ),
    )
    op.create_index("ix_question_log_created_at", "question_log", ["created_at"])
    op.create_index("ix_question_log_outcome", "question_log", ["outcome"])


def downgrade() -> None:
    op.drop_table("question_log")
    op.drop_table("chats")
    op.drop_table("users")
