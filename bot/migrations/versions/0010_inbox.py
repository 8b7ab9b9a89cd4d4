"""Durable inbox of incoming updates; it replaces processed_updates (its unique
(channel, update_key) is the deduplication now).

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

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "inbox_updates",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("update_key", sa.String(128), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("claimed_by", sa.String(96), nullable=True),
        sa.Column("claimed_until", _TS, nullable=True),
        sa.Column("handled_at", _TS, nullable=True),
        sa.Column("last_error", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_inbox_updates"),
        sa.UniqueConstraint("channel", "update_key",
                            name="uq_inbox_updates_channel_update_key"),
    )
    op.create_index("ix_inbox_updates_channel_state_id", "inbox_updates",
                    ["channel", "state", "id"])
    op.create_index("ix_inbox_updates_received_at", "inbox_updates", ["received_at"])
    op.drop_index("ix_processed_updates_created_at", table_name="processed_updates")
    op.drop_table("processed_updates")


def downgrade() -> None:
    op.create_table(
        "processed_updates",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("update_key", sa.String(128), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_processed_updates"),
        sa.UniqueConstraint("channel", "update_key",
                            name="uq_processed_updates_channel_update_key"),
    )
    op.create_index("ix_processed_updates_created_at", "processed_updates", ["created_at"])
    op.execute("INSERT INTO processed_updates (channel, update_key, created_at) "
               "SELECT channel, update_key, received_at FROM inbox_updates")
    op.drop_index("ix_inbox_updates_received_at", table_name="inbox_updates")
    op.drop_index("ix_inbox_updates_channel_state_id", table_name="inbox_updates")
    op.drop_table("inbox_updates")
