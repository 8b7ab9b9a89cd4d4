"""Question analytics: where each question was asked from and its group, question groups,
learned phrasings and the knowledge-base stamp processes check.

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0010"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "question_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("sample", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("entry_id", sa.String(64), nullable=True),
        sa.Column("examples", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], ondelete="SET NULL",
                                name="fk_question_groups_decided_by_users"),
        sa.PrimaryKeyConstraint("id", name="pk_question_groups"),
        sa.UniqueConstraint("key", name="uq_question_groups_key"),
    )
    op.create_table(
        "question_group_keys",
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["question_groups.id"], ondelete="CASCADE",
                                name="fk_question_group_keys_group_id_question_groups"),
        sa.PrimaryKeyConstraint("key", name="pk_question_group_keys"),
    )
    op.create_index("ix_question_group_keys_group_id", "question_group_keys", ["group_id"])
    op.create_table(
        "learned_phrasings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("revoked_by", sa.Integer(), nullable=True),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.Column("merged_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(["group_id"], ["question_groups.id"], ondelete="SET NULL",
                                name="fk_learned_phrasings_group_id_question_groups"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL",
                                name="fk_learned_phrasings_created_by_users"),
        sa.ForeignKeyConstraint(["revoked_by"], ["users.id"], ondelete="SET NULL",
                                name="fk_learned_phrasings_revoked_by_users"),
        sa.PrimaryKeyConstraint("id", name="pk_learned_phrasings"),
    )
    op.create_index("ix_learned_phrasings_entry_id", "learned_phrasings", ["entry_id"])
    op.create_index("ix_learned_phrasings_revoked_at", "learned_phrasings", ["revoked_at"])
    op.create_table(
        "kb_stamps",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_kb_stamps"),
    )
    with op.batch_alter_table("question_log") as batch:
        batch.add_column(sa.Column("unit_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("group_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_question_log_unit_id_org_units", "org_units",
                                 ["unit_id"], ["id"], ondelete="SET NULL")
        batch.create_foreign_key("fk_question_log_group_id_question_groups", "question_groups",
                                 ["group_id"], ["id"], ondelete="SET NULL")
    op.create_index("ix_question_log_group_id_created_at", "question_log",
                    ["group_id", "created_at"])
    op.create_index("ix_question_log_user_id_id", "question_log", ["user_id", "id"])
    op.create_index("ix_question_log_created_at_outcome_unit_id_group_id_entry_id",
                    "question_log", ["created_at", "outcome", "unit_id", "group_id", "entry_id"])


def downgrade() -> None:
    op.drop_index("ix_question_log_created_at_outcome_unit_id_group_id_entry_id",
                  table_name="question_log")
    op.drop_index("ix_question_log_user_id_id", table_name="question_log")
    op.drop_index("ix_question_log_group_id_created_at", table_name="question_log")
    with op.batch_alter_table("question_log") as batch:
        batch.drop_constraint("fk_question_log_group_id_question_groups", type_="foreignkey")
        batch.drop_constraint("fk_question_log_unit_id_org_units", type_="foreignkey")
        batch.drop_column("group_id")
        batch.drop_column("unit_id")
    op.drop_table("kb_stamps")
    op.drop_index("ix_learned_phrasings_revoked_at", table_name="learned_phrasings")
    op.drop_index("ix_learned_phrasings_entry_id", table_name="learned_phrasings")
    op.drop_table("learned_phrasings")
    op.drop_index("ix_question_group_keys_group_id", table_name="question_group_keys")
    op.drop_table("question_group_keys")
    op.drop_table("question_groups")
