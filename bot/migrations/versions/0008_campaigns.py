"""Campaigns (đợt quán triệt), confirmations from party cells, members' own study marks,
reminder log; broadcast runs may carry buttons.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document", sa.String(16), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("scope_unit_id", sa.Integer(), nullable=False),
        sa.Column("opens_on", sa.Date(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.Integer()),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("closed_at", _TS),
        sa.PrimaryKeyConstraint("id", name="pk_campaigns"),
        sa.ForeignKeyConstraint(["scope_unit_id"], ["org_units.id"],
                                name="fk_campaigns_scope_unit_id_org_units", ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name="fk_campaigns_created_by_users", ondelete="SET NULL"),
    )
    op.create_index("ix_campaigns_status", "campaigns", ["status"])
    op.create_table(
        "confirmations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("confirmed_by", sa.Integer()),
        sa.Column("on_behalf", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("attended", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_confirmations"),
        sa.UniqueConstraint("campaign_id", "unit_id",
                            name="uq_confirmations_campaign_id_unit_id"),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"],
                                name="fk_confirmations_campaign_id_campaigns",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["org_units.id"],
                                name="fk_confirmations_unit_id_org_units", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["confirmed_by"], ["users.id"],
                                name="fk_confirmations_confirmed_by_users", ondelete="SET NULL"),
    )
    op.create_index("ix_confirmations_unit_id", "confirmations", ["unit_id"])
    op.create_table(
        "member_studies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_member_studies"),
        sa.UniqueConstraint("campaign_id", "user_id",
                            name="uq_member_studies_campaign_id_user_id"),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"],
                                name="fk_member_studies_campaign_id_campaigns",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name="fk_member_studies_user_id_users", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["org_units.id"],
                                name="fk_member_studies_unit_id_org_units", ondelete="CASCADE"),
    )
    op.create_index("ix_member_studies_unit_id", "member_studies", ["unit_id"])
    op.create_table(
        "reminder_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reminder_log"),
        sa.UniqueConstraint("campaign_id", "unit_id", "sent_on",
                            name="uq_reminder_log_campaign_id_unit_id_sent_on"),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"],
                                name="fk_reminder_log_campaign_id_campaigns", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["org_units.id"],
                                name="fk_reminder_log_unit_id_org_units", ondelete="CASCADE"),
    )
    with op.batch_alter_table("broadcast_runs") as batch:
        batch.add_column(sa.Column("buttons", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("broadcasts") as batch:
        batch.add_column(sa.Column("campaign_id", sa.Integer()))
        batch.create_foreign_key("fk_broadcasts_campaign_id_campaigns", "campaigns",
                                 ["campaign_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("broadcasts") as batch:
        batch.drop_constraint("fk_broadcasts_campaign_id_campaigns", type_="foreignkey")
        batch.drop_column("campaign_id")
    with op.batch_alter_table("broadcast_runs") as batch:
        batch.drop_column("buttons")
    op.drop_table("reminder_log")
    op.drop_table("member_studies")
    op.drop_table("confirmations")
    op.drop_table("campaigns")
