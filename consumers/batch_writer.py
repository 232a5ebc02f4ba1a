"""Each batch's writes, one at a time and in order, while the next batch is read and decided.

A batch's outbox rows, decision records, snapshots and checkpoints go to the store in one
transaction (retried while the store is away: the decisions are in memory, not lost); then the
effect runner and the audit lane are woken and the positions committed to Kafka. The store, not the
Kafka commit, is the truth about positions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from sqlalchemy.exc import SQLAlchemyError

from exec_watchdog.adapters.audit_store import Checkpoint, DecisionRow
from exec_watchdog.adapters.store import OutboxItem, PartitionSnapshot, Store
from exec_watchdog.telemetry.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Batch:
    snapshots: dict[int, PartitionSnapshot]
    items: list[OutboxItem]
    decisions: list[DecisionRow]
    marks: dict[int, Checkpoint]
    """Checkpoints, by partition (built from the rows this write stores)."""


class BatchWriter:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        store: Store,
        metrics: Metrics,
        *,
        lifecycle_topic: str,
        control_topic: str,
        on_decisions: Callable[[], None],
    ) -> None:
        self.consumer = consumer
        self.store = store
        self.metrics = metrics
        self.lifecycle_topic = lifecycle_topic
        self.control_topic = control_topic
        self.on_decisions = on_decisions
        self._writing: asyncio.Task[None] | None = None

    async def start(self, batch: Batch) -> None:
        """Start writing this batch once the previous write is done (a crash replays what was not written)."""
        await self.written()
        self._writing = asyncio.create_task(self._write(batch), name="persist")

    async def written(self) -> None:
        """Wait for the write in flight, if any (and raise what it raised). Cancelling the waiter
        does not cancel the write: the next wait finds it still there."""
        if self._writing is not None:
            await asyncio.shield(self._writing)
            self._writing = None

    async def _write(self, batch: Batch) -> None:
        snaps, items, decided = batch.snapshots, batch.items, batch.decisions
        delay = 0.2
        while True:
            try:
                with self.metrics.store_seconds.labels("save").time():
                    await asyncio.to_thread(self.store.save, self.lifecycle_topic, snaps, items, decided, batch.marks)
                break
            except SQLAlchemyError as error:
                log.warning("store unavailable (%s); retrying in %.1f s", type(error).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        if items or decided:
            self.on_decisions()
        if snaps:
            await self.commit(snaps)

    async def commit(self, snaps: dict[int, PartitionSnapshot]) -> None:
        offsets = {}
        for p, snap in snaps.items():
            offsets[TopicPartition(self.lifecycle_topic, p)] = snap.lifecycle_offset
            offsets[TopicPartition(self.control_topic, p)] = snap.control_offset
        try:
            await self.consumer.commit(offsets)
        except KafkaError as error:  # the store holds the positions; the Kafka commit is for lag tools
            log.info("offset commit skipped: %s", error)
