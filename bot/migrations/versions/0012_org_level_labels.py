"""Org units keep the level label their file used ("Phường", "Chi bộ cơ sở") beside the kind.

Revision ID: 0012
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("org_units") as batch:
        batch.add_column(sa.Column("level_label", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("org_units") as batch:
        batch.drop_column("level_label")
