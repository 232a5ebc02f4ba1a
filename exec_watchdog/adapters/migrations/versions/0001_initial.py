"""The store's first schema: partition snapshots, the outbox ledger, decision records, policies,
checkpoints.

Revision ID: 0001
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
        "partition_state",
        sa.Column("group_id", sa.String(255), primary_key=True),
        sa.Column("topic", sa.String(255), primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("lifecycle_offset", sa.BigInteger, nullable=False),
        sa.Column("control_offset", sa.BigInteger, nullable=False),
        sa.Column("snapshot", sa.LargeBinary, nullable=False),
        sa.Column("saved_at_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("group_id", sa.String(255), nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("execution_id", sa.String(128), nullable=False),
        sa.Column("agent_name", sa.String(63), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(32)),
        sa.Column("observed_at_us", sa.BigInteger),
        sa.Column("claimed_by", sa.String(64)),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
        sa.Column("done_at_us", sa.BigInteger),
    )
    op.create_index("outbox_work", "outbox", ["group_id", "status", "partition"])
    op.create_index("outbox_execution", "outbox", ["execution_id"])
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("group_id", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("source_topic", sa.String(255), nullable=False),
        sa.Column("source_offset", sa.BigInteger, nullable=False),
        sa.Column("execution_id", sa.String(128), nullable=False),
        sa.Column("input_id", sa.String(128), nullable=False),
        sa.Column("input_type", sa.String(40), nullable=False),
        sa.Column("input_json", sa.Text, nullable=False),
        sa.Column("state_before", sa.String(20)),
        sa.Column("state_after", sa.String(20)),
        sa.Column("policy_digest", sa.String(16), nullable=False),
        sa.Column("outputs_json", sa.Text, nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
    )
    op.create_index("decisions_execution", "decisions", ["execution_id", "id"])
    op.create_index(
        "decisions_source",
        "decisions",
        ["group_id", "topic", "partition", "source_topic", "source_offset", "execution_id"],
        unique=True,
    )
    op.create_table(
        "policies",
        sa.Column("digest", sa.String(16), primary_key=True),
        sa.Column("values_json", sa.Text, nullable=False),
    )
    op.create_table(
        "checkpoints",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("group_id", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("lifecycle_offset", sa.BigInteger, nullable=False),
        sa.Column("control_offset", sa.BigInteger, nullable=False),
        sa.Column("policy_digest", sa.String(16), nullable=False),
        sa.Column("snapshot", sa.LargeBinary, nullable=False),
        sa.Column("clock_us", sa.BigInteger),
        sa.Column("saved_at_us", sa.BigInteger, nullable=False),
    )
    op.create_index("checkpoints_partition", "checkpoints", ["group_id", "topic", "partition", "id"])


def downgrade() -> None:
    for table in ("checkpoints", "policies", "decisions", "outbox", "partition_state"):
        op.drop_table(table)
