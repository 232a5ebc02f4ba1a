"""Audit records are published from the decisions table by a cursor per partition, not through one
outbox row per decision: a burst of decisions never queues ahead of a probe or a terminate.

Decisions recorded before this revision already have their outbox rows: the cursors start past them.

Revision ID: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_cursor",
        sa.Column("group_id", sa.String(255), primary_key=True),
        sa.Column("topic", sa.String(255), primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("published_id", sa.BigInteger, nullable=False),
    )
    op.create_index("decisions_partition", "decisions", ["group_id", "topic", "partition", "id"])
    op.create_index("outbox_lane", "outbox", ["group_id", "kind", "status", "created_at_us"])
    op.execute(
        "INSERT INTO audit_cursor (group_id, topic, partition, published_id) "
        "SELECT group_id, topic, partition, MAX(id) FROM decisions GROUP BY group_id, topic, partition"
    )


def downgrade() -> None:
    op.drop_index("outbox_lane", "outbox")
    op.drop_index("decisions_partition", "decisions")
    op.drop_table("audit_cursor")
