"""exec-watchdog's own store (SQLAlchemy Core): partition snapshots with their log positions, and the
outbox that is also the effect ledger. SQLite (WAL) by default; PostgreSQL in production.

Outbox rows move `pending` -> `started` (the effect is under way) -> `executed` (it happened; its
outcome is recorded) -> `done` (the outcome was published back into the log). A restarted runner
re-publishes `executed` rows and never executes them again; a `started` row it did not start itself
was interrupted, and is settled by looking before acting again. Rows belong to the instance that
owns their partition: it takes them over when the partition is assigned to it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    Table,
    and_,
    create_engine,
    event,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from exec_watchdog.adapters import audit_store, partition_rows
from exec_watchdog.adapters import migrate as migrations
from exec_watchdog.adapters.audit_store import Checkpoint, DecisionRow
from exec_watchdog.adapters.snapshots import Changes, RowChunk, whole_from_rows
from exec_watchdog.adapters.status_store import StatusStore
from exec_watchdog.adapters.store_tables import outbox, partition_state


@dataclass(frozen=True, slots=True)
class PartitionSnapshot:
    lifecycle_offset: int
    control_offset: int
    snapshot: bytes
    """A whole snapshot, or an incremental one's header (`adapters.snapshots`)."""
    changes: Changes | None = None
    """An incremental snapshot's rows to write; None for a whole one (or a header read back)."""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: str
    partition: int
    kind: str
    execution_id: str
    agent_name: str
    payload: str


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: str
    partition: int
    kind: str
    execution_id: str
    agent_name: str
    payload: str
    status: str
    outcome: str | None
    observed_at_us: int | None
    evidence: str | None = None
    """What the agent still held before the effect was sent (a terminate: its last error, JSON)."""


EFFECT_KINDS = ("probe", "terminate", "mark_failed", "recovery", "release_slot", "ui_event", "audit")
"""What the effect runner claims (`audit`: rows written before the audit lane, still drained)."""
UNFINISHED = ("pending", "started", "executed")


def _now_us() -> int:
    return time.time_ns() // 1000


class Store:
    def __init__(self, url: str, group_id: str, *, migrate: bool = True) -> None:
        self.group_id = group_id
        self.engine: Engine = create_engine(url, future=True, pool_pre_ping=True)
        if self.engine.dialect.name not in ("sqlite", "postgresql"):
            raise ValueError(
                f"DATABASE_URL: {self.engine.dialect.name} is not supported; use sqlite:/// or postgresql://"
            )
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        if migrate:
            migrations.upgrade(self.engine)
        else:
            migrations.require_current(self.engine)
        self.audit = audit_store.AuditStore(self.engine, group_id)
        self.status = StatusStore(self.engine, group_id)

    def close(self) -> None:
        self.engine.dispose()

    # ---- partition state ---------------------------------------------------------------------------

    def load_partition(self, topic: str, partition: int) -> PartitionSnapshot | None:
        """The latest snapshot's positions and header (or whole document); rows: `partition_rows`."""
        query = select(partition_state.c.lifecycle_offset, partition_state.c.control_offset, partition_state.c.snapshot)
        query = query.where(self._partition_key(topic, partition))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else PartitionSnapshot(row[0], row[1], bytes(row[2]))

    def partition_rows(self, topic: str, partition: int) -> Iterator[RowChunk]:
        """An incremental snapshot's rows, streamed in chunks (never all in memory at once)."""
        with self.engine.connect() as conn:
            yield from partition_rows.read_chunks(conn, (self.group_id, topic, partition))

    def save(
        self,
        topic: str,
        snapshots: dict[int, PartitionSnapshot],
        items: Sequence[OutboxItem],
        decisions: Sequence[DecisionRow] = (),
        checkpoints: Mapping[int, Checkpoint] | None = None,
    ) -> None:
        """Outbox rows, decision records, partition snapshots and checkpoints in one transaction. A
        checkpoint of a partition with an incremental snapshot in this write is built here from the
        rows as written (its `snapshot` is ignored): off the event loop, and never re-encoded."""
        with self.engine.begin() as conn:
            self._insert_outbox(conn, items)
            audit_store.insert_decisions(conn, self.group_id, topic, list(decisions))
            for partition, snap in snapshots.items():
                if snap.changes is not None:
                    partition_rows.write(conn, (self.group_id, topic, partition), snap.changes)
                values = {
                    "lifecycle_offset": snap.lifecycle_offset,
                    "control_offset": snap.control_offset,
                    "snapshot": snap.snapshot,
                    "saved_at_us": _now_us(),
                }
                key = {"group_id": self.group_id, "topic": topic, "partition": partition}
                insert = self._dialect_insert(partition_state).values(**key, **values)
                conn.execute(_upsert(insert, ["group_id", "topic", "partition"], values))
            for partition, checkpoint in (checkpoints or {}).items():
                written = snapshots.get(partition)
                if written is not None and written.changes is not None:
                    rows = partition_rows.read(conn, (self.group_id, topic, partition))
                    checkpoint = replace(checkpoint, snapshot=whole_from_rows(written.snapshot, rows))
                audit_store.insert_checkpoint(conn, self.group_id, topic, checkpoint, _now_us())

    def _partition_key(self, topic: str, partition: int) -> Any:
        c = partition_state.c
        return and_(c.group_id == self.group_id, c.topic == topic, c.partition == partition)

    # ---- outbox and ledger -------------------------------------------------------------------------

    def _insert_outbox(self, conn: Connection, items: Sequence[OutboxItem]) -> None:
        if not items:
            return
        now = _now_us()
        rows = [
            {
                "id": i.id,
                "group_id": self.group_id,
                "partition": i.partition,
                "kind": i.kind,
                "execution_id": i.execution_id,
                "agent_name": i.agent_name,
                "payload": i.payload,
                "status": "pending",
                "created_at_us": now,
            }
            for i in items
        ]
        # A replayed decision regenerates the same ids: the first row stays, whatever its status.
        conn.execute(self._dialect_insert(outbox).on_conflict_do_nothing(index_elements=["id"]), rows)

    def take_over(self, partitions: Iterable[int], owner: str) -> int:
        """This instance now owns these partitions: their unfinished rows are its to run."""
        parts = list(partitions)
        if not parts:
            return 0
        c = outbox.c
        where = and_(c.group_id == self.group_id, c.status.in_(UNFINISHED), c.partition.in_(parts))
        with self.engine.begin() as conn:
            return int(conn.execute(update(outbox).where(where).values(claimed_by=owner)).rowcount)

    def claim(
        self, partitions: Iterable[int], owner: str, limit: int = 500, *, webhooks: bool = False
    ) -> list[OutboxRow]:
        """Unfinished rows of these partitions that are new or already this owner's: webhook deliveries
        alone when `webhooks`, every other effect otherwise (a dead webhook never crowds out a probe).
        Each kind is read along its own index range, so the cost follows the rows due, not the rows done."""
        parts = list(partitions)
        if not parts:
            return []
        c = outbox.c
        mine = or_(c.claimed_by.is_(None), c.claimed_by == owner)
        kinds = ["webhook"] if webhooks else list(EFFECT_KINDS)
        where = and_(
            c.group_id == self.group_id,
            c.kind.in_(kinds),
            c.status.in_(UNFINISHED),
            c.partition.in_(parts),
            mine,
        )
        with self.engine.begin() as conn:
            rows = conn.execute(select(outbox).where(where).order_by(c.created_at_us, c.id).limit(limit)).all()
            fresh = [r.id for r in rows if r.claimed_by is None]
            if fresh:
                unclaimed = and_(c.id.in_(fresh), c.claimed_by.is_(None))
                conn.execute(update(outbox).where(unclaimed).values(claimed_by=owner))
            return [_row(r) for r in rows]

    def mark_started(self, row_id: str) -> None:
        c = outbox.c
        with self.engine.begin() as conn:
            conn.execute(update(outbox).where(and_(c.id == row_id, c.status == "pending")).values(status="started"))

    def record_outcome(self, row_id: str, outcome: str, observed_at_us: int) -> None:
        """The ledger entry: this effect happened, with this outcome. Never executed again."""
        c = outbox.c
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(and_(c.id == row_id, c.status.in_(["pending", "started"])))
                .values(status="executed", outcome=outcome, observed_at_us=observed_at_us)
            )

    def record_evidence(self, row_id: str, evidence: str) -> None:
        """Kept with the row before its effect is sent, for `audit` and the failure mark that follows."""
        with self.engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == row_id).values(evidence=evidence))

    def mark_done(self, row_ids: Sequence[str]) -> None:
        if not row_ids:
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox).where(outbox.c.id.in_(list(row_ids))).values(status="done", done_at_us=_now_us())
            )

    def outbox_rows(self, execution_id: str) -> list[OutboxRow]:
        c = outbox.c
        query = select(outbox).where(c.execution_id == execution_id).order_by(c.created_at_us, c.id)
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(query)]

    def _dialect_insert(self, table: Table) -> Any:
        if self.engine.dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)


def _row(r: Any) -> OutboxRow:
    return OutboxRow(
        r.id,
        r.partition,
        r.kind,
        r.execution_id,
        r.agent_name,
        r.payload,
        r.status,
        r.outcome,
        r.observed_at_us,
        r.evidence,
    )


def _upsert(insert: Any, keys: list[str], values: dict[str, Any]) -> Any:
    return insert.on_conflict_do_update(index_elements=keys, set_=values)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
