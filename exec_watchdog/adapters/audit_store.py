"""The audit trail in the store: decision records, the policies they ran under, and checkpoints.

- `decisions`: one row per applied input that changed something (created or ended an execution,
  moved its state, issued a command or a recovery, or is an agent's answer), with the state before
  and after, the policy digest, the outputs and the input's source. Heartbeats that only move time
  are not copied: their place in the log is implied by the records around them.
- `checkpoints`: partition snapshots kept for history (the latest snapshot is overwritten; these are
  not), written every `CHECKPOINT_INTERVAL_S` and when a partition is taken over under a policy other
  than its latest checkpoint's (or has none). A replay starts from one and re-reads the two logs
  after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from exec_watchdog.adapters.store_tables import audit_cursor, checkpoints, decisions, policies


@dataclass(frozen=True, slots=True)
class DecisionRow:
    partition: int
    source_topic: str
    source_offset: int
    execution_id: str
    input_id: str
    input_type: str
    input_json: str
    state_before: str | None
    state_after: str | None
    policy_digest: str
    outputs_json: str
    at_us: int
    time_note: str | None = None
    """Set when the input's claimed time was not taken as it was: what counted instead, and why."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    partition: int
    lifecycle_offset: int
    control_offset: int
    policy_digest: str
    snapshot: bytes
    clock_us: int | None


def insert_decisions(conn: Connection, group_id: str, topic: str, rows: list[DecisionRow]) -> None:
    """A replay after a crash regenerates the same records: the first copy stays."""
    if not rows:
        return
    insert = postgresql.insert(decisions) if conn.dialect.name == "postgresql" else sqlite.insert(decisions)
    conn.execute(insert.on_conflict_do_nothing(), [{"group_id": group_id, "topic": topic, **_fields(r)} for r in rows])


def insert_checkpoint(conn: Connection, group_id: str, topic: str, cp: Checkpoint, saved_at_us: int) -> None:
    conn.execute(checkpoints.insert().values(group_id=group_id, topic=topic, saved_at_us=saved_at_us, **_fields(cp)))


def _fields(row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in row.__slots__}


class AuditStore:
    """Reading the audit trail (the service writes it through `Store.save`)."""

    def __init__(self, engine: Engine, group_id: str) -> None:
        self.engine = engine
        self.group_id = group_id

    def save_policy(self, digest: str, values_json: str) -> None:
        with self.engine.begin() as conn:
            if conn.execute(select(policies.c.digest).where(policies.c.digest == digest)).first() is None:
                conn.execute(policies.insert().values(digest=digest, values_json=values_json))

    def policy(self, digest: str) -> str | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(policies.c.values_json).where(policies.c.digest == digest)).first()
        return None if row is None else str(row[0])

    def for_execution(self, execution_id: str) -> list[DecisionRow]:
        query = (
            select(decisions)
            .where(and_(decisions.c.group_id == self.group_id, decisions.c.execution_id == execution_id))
            .order_by(decisions.c.id)
        )
        with self.engine.connect() as conn:
            return [_decision(r) for r in conn.execute(query)]

    def for_partition(self, topic: str, partition: int) -> list[DecisionRow]:
        c = decisions.c
        query = (
            select(decisions)
            .where(and_(c.group_id == self.group_id, c.topic == topic, c.partition == partition))
            .order_by(c.id)
        )
        with self.engine.connect() as conn:
            return [_decision(r) for r in conn.execute(query)]

    def unpublished(self, topic: str, partition: int, limit: int) -> list[tuple[int, DecisionRow]]:
        """Decisions of one partition whose audit records are not yet on the broker, oldest first, with
        their ids (an index range after the partition's cursor: what it costs does not grow with the
        decisions already published)."""
        c = decisions.c
        with self.engine.connect() as conn:
            published = self._published(conn, topic, partition)
            where = and_(c.group_id == self.group_id, c.topic == topic, c.partition == partition, c.id > published)
            query = select(decisions).where(where).order_by(c.id).limit(limit)
            return [(int(r.id), _decision(r)) for r in conn.execute(query)]

    def _published(self, conn: Connection, topic: str, partition: int) -> int:
        a = audit_cursor.c
        key = and_(a.group_id == self.group_id, a.topic == topic, a.partition == partition)
        found = conn.execute(select(a.published_id).where(key)).scalar()
        return -1 if found is None else int(found)

    def mark_published(self, topic: str, partition: int, through_id: int) -> None:
        """The broker has every audit record of this partition up to decision `through_id`."""
        values = {"group_id": self.group_id, "topic": topic, "partition": partition, "published_id": through_id}
        with self.engine.begin() as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            insert = dialect.insert(audit_cursor)
            keys = ["group_id", "topic", "partition"]
            conn.execute(insert.values(**values).on_conflict_do_update(index_elements=keys, set_=values))

    def unpublished_count(self, topic: str, partition: int) -> int:
        c = decisions.c
        with self.engine.connect() as conn:
            published = self._published(conn, topic, partition)
            where = and_(c.group_id == self.group_id, c.topic == topic, c.partition == partition, c.id > published)
            return int(conn.execute(select(func.count()).select_from(decisions).where(where)).scalar() or 0)

    def partitions(self, topic: str) -> list[int]:
        c = checkpoints.c
        query = select(c.partition).where(and_(c.group_id == self.group_id, c.topic == topic)).distinct()
        with self.engine.connect() as conn:
            return sorted(int(r[0]) for r in conn.execute(query))

    def latest_checkpoint(self, topic: str, partition: int) -> tuple[str, int] | None:
        """The policy digest and the time (microseconds) of the partition's latest checkpoint."""
        c = checkpoints.c
        where = and_(c.group_id == self.group_id, c.topic == topic, c.partition == partition)
        query = select(c.policy_digest, c.saved_at_us).where(where).order_by(c.id.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else (str(row[0]), int(row[1]))

    def checkpoints(self, topic: str, partition: int) -> list[Checkpoint]:
        c = checkpoints.c
        query = (
            select(checkpoints)
            .where(and_(c.group_id == self.group_id, c.topic == topic, c.partition == partition))
            .order_by(c.id)
        )
        with self.engine.connect() as conn:
            return [
                Checkpoint(
                    r.partition, r.lifecycle_offset, r.control_offset, r.policy_digest, bytes(r.snapshot), r.clock_us
                )
                for r in conn.execute(query)
            ]


def _decision(r: Any) -> DecisionRow:
    return DecisionRow(
        r.partition,
        r.source_topic,
        r.source_offset,
        r.execution_id,
        r.input_id,
        r.input_type,
        r.input_json,
        r.state_before,
        r.state_after,
        r.policy_digest,
        r.outputs_json,
        r.at_us,
        r.time_note,
    )
