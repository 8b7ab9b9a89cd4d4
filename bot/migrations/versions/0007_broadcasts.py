"""Broadcasts, their runs and the delivery outbox; dialog state keyed by kind as well.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("dialog_states") as batch:
        batch.drop_constraint("uq_dialog_states_channel_chat_id_user_id", type_="unique")
        batch.create_unique_constraint("uq_dialog_states_channel_chat_id_user_id_kind",
                                       ["channel", "chat_id", "user_id", "kind"])
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("content_kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("entry_id", sa.String(64)),
        sa.Column("series", sa.String(80)),
        sa.Column("series_pos", sa.Integer(), nullable=False),
        sa.Column("targets", sa.Text(), nullable=False),
        sa.Column("level", sa.String(32)),
        sa.Column("audience", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("schedule_kind", sa.String(8), nullable=False),
        sa.Column("cron", sa.String(120), nullable=False),
        sa.Column("next_fire_at", _TS),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_broadcasts"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name="fk_broadcasts_created_by_users", ondelete="SET NULL"),
    )
    op.create_index("ix_broadcasts_created_by", "broadcasts", ["created_by"])
    op.create_index("ix_broadcasts_status_next_fire_at", "broadcasts", ["status", "next_fire_at"])
    op.create_table(
        "broadcast_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("fire_at", _TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("entry_id", sa.String(64)),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("finished_at", _TS),
        sa.PrimaryKeyConstraint("id", name="pk_broadcast_runs"),
        sa.UniqueConstraint("broadcast_id", "fire_at",
                            name="uq_broadcast_runs_broadcast_id_fire_at"),
        sa.ForeignKeyConstraint(["broadcast_id"], ["broadcasts.id"],
                                name="fk_broadcast_runs_broadcast_id_broadcasts",
                                ondelete="CASCADE"),
    )
    op.create_index("ix_broadcast_runs_status", "broadcast_runs", ["status"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(255)),
        sa.Column("platform_message_id", sa.String(64)),
        sa.Column("not_before", _TS),
        sa.Column("updated_at", _TS),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.UniqueConstraint("run_id", "chat_id", name="uq_deliveries_run_id_chat_id"),
        sa.ForeignKeyConstraint(["run_id"], ["broadcast_runs.id"],
                                name="fk_deliveries_run_id_broadcast_runs", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["chat_id"], ["chats.id"],
                                name="fk_deliveries_chat_id_chats", ondelete="CASCADE"),
    )
    op.create_index("ix_deliveries_channel_status_id", "deliveries", ["channel", "status", "id"])
    op.create_index("ix_deliveries_run_id_status", "deliveries", ["run_id", "status"])


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("broadcast_runs")
    op.drop_table("broadcasts")
    with op.batch_alter_table("dialog_states") as batch:
        batch.drop_constraint("uq_dialog_states_channel_chat_id_user_id_kind", type_="unique")
        batch.create_unique_constraint("uq_dialog_states_channel_chat_id_user_id",
                                       ["channel", "chat_id", "user_id"])
