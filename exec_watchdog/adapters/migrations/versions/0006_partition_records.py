"""Partition snapshots are incremental: one row per execution, rewritten only when it changed.

Snapshots written before this revision are whole documents in `partition_state.snapshot`; they are
still read, and the first snapshot after them writes every row.

Revision ID: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partition_records",
        sa.Column("group_id", sa.String(255), primary_key=True),
        sa.Column("topic", sa.String(255), primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("execution_id", sa.String(128), primary_key=True),
        sa.Column("row", sa.Text, nullable=False),
        sa.Column("shifted", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("partition_records")
