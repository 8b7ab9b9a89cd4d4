"""One dispatcher per channel: a renewable lease in the database.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dispatcher_leases",
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("holder", sa.String(96), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", name="pk_dispatcher_leases"),
    )


def downgrade() -> None:
    op.drop_table("dispatcher_leases")
