"""Each running instance writes what it thinks right now (`exec-watchdog status` reads it).

Revision ID: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instance_status",
        sa.Column("group_id", sa.String(255), primary_key=True),
        sa.Column("instance_id", sa.String(255), primary_key=True),
        sa.Column("written_at_us", sa.BigInteger, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("instance_status")
