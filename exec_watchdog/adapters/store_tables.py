"""Every table of exec-watchdog's own store, in one metadata."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, MetaData, String, Table, Text

metadata = MetaData()

partition_state = Table(
    "partition_state",
    metadata,
    Column("group_id", String(255), primary_key=True),
    Column("topic", String(255), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("lifecycle_offset", BigInteger, nullable=False),
    Column("control_offset", BigInteger, nullable=False),
    Column("snapshot", LargeBinary, nullable=False),
    Column("saved_at_us", BigInteger, nullable=False),
)

partition_records = Table(
    "partition_records",
    metadata,
    Column("group_id", String(255), primary_key=True),
    Column("topic", String(255), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("execution_id", String(128), primary_key=True),
    Column("row", Text, nullable=False),
    Column("shifted", BigInteger, nullable=False),
)
"""An incremental snapshot's records: one row per execution (`adapters.snapshots`)."""

outbox = Table(
    "outbox",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("group_id", String(255), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("execution_id", String(128), nullable=False),
    Column("agent_name", String(63), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False, default="pending"),
    Column("outcome", String(32)),
    Column("observed_at_us", BigInteger),
    Column("claimed_by", String(64)),
    Column("created_at_us", BigInteger, nullable=False),
    Column("done_at_us", BigInteger),
    Column("evidence", Text),
    Index("outbox_work", "group_id", "status", "partition"),
    Index("outbox_execution", "execution_id"),
    Index("outbox_lane", "group_id", "kind", "status", "created_at_us"),
)


decisions = Table(
    "decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("group_id", String(255), nullable=False),
    Column("topic", String(255), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("source_topic", String(255), nullable=False),
    Column("source_offset", BigInteger, nullable=False),
    Column("execution_id", String(128), nullable=False),
    Column("input_id", String(128), nullable=False),
    Column("input_type", String(40), nullable=False),
    Column("input_json", Text, nullable=False),
    Column("state_before", String(20)),
    Column("state_after", String(20)),
    Column("policy_digest", String(16), nullable=False),
    Column("outputs_json", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("time_note", Text),
    Index("decisions_execution", "execution_id", "id"),
    Index("decisions_partition", "group_id", "topic", "partition", "id"),
    Index(
        "decisions_source",
        "group_id",
        "topic",
        "partition",
        "source_topic",
        "source_offset",
        "execution_id",
        unique=True,
    ),
)

audit_cursor = Table(
    "audit_cursor",
    metadata,
    Column("group_id", String(255), primary_key=True),
    Column("topic", String(255), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("published_id", BigInteger, nullable=False),
)
"""Per partition, the id of the last decision whose audit record the broker has."""

policies = Table(
    "policies",
    metadata,
    Column("digest", String(16), primary_key=True),
    Column("values_json", Text, nullable=False),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("group_id", String(255), nullable=False),
    Column("topic", String(255), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("lifecycle_offset", BigInteger, nullable=False),
    Column("control_offset", BigInteger, nullable=False),
    Column("policy_digest", String(16), nullable=False),
    Column("snapshot", LargeBinary, nullable=False),
    Column("clock_us", BigInteger),
    Column("saved_at_us", BigInteger, nullable=False),
    Index("checkpoints_partition", "group_id", "topic", "partition", "id"),
)

instance_status = Table(
    "instance_status",
    metadata,
    Column("group_id", String(255), primary_key=True),
    Column("instance_id", String(255), primary_key=True),
    Column("written_at_us", BigInteger, nullable=False),
    Column("document", Text, nullable=False),
)
