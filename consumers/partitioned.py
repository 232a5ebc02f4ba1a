"""The group consumer: owns partitions, restores them from snapshot + log, applies, persists, commits.

Both topics are subscribed with the range assignor, so partition N of the lifecycle topic and of the
control topic always land on the same instance (equal partition counts are enforced at start-up).
Per batch: apply what the merge rule allows, and hand the decisions' outbox rows and records (and,
every `SNAPSHOT_INTERVAL_S`, the partitions' incremental snapshots) to the `BatchWriter`. A rebalance
hands back every partition; one that comes straight back is kept as it is, not restored.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor

from consumers.batch_writer import Batch, BatchWriter
from consumers.decision_records import decision_rows
from consumers.outbox_items import outbox_items
from consumers.partition import Drained, PartitionState
from consumers.restorer import Restorer
from exec_watchdog.adapters import snapshots
from exec_watchdog.adapters.audit_store import Checkpoint, DecisionRow
from exec_watchdog.adapters.kafka_connection import KafkaConnection
from exec_watchdog.adapters.store import OutboxItem, PartitionSnapshot, Store
from exec_watchdog.telemetry.metrics import Metrics
from producers.publisher import Publisher
from statemachine.policy import Policy

log = logging.getLogger(__name__)
READY_LAG = 1000


class PartitionedConsumer:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        *,
        store: Store,
        publisher: Publisher,
        metrics: Metrics,
        policy: Policy,
        lifecycle_topic: str,
        control_topic: str,
        snapshot_interval_s: float,
        checkpoint_interval_s: float,
        on_decisions: Callable[[], None],
        on_adopt: Callable[[set[int]], Awaitable[None]],
        on_release: Callable[[set[int]], Awaitable[None]],
    ) -> None:
        self.consumer = consumer
        self.store = store
        self.publisher = publisher
        self.metrics = metrics
        self.policy = policy
        self.lifecycle_topic = lifecycle_topic
        self.control_topic = control_topic
        self.snapshot_interval_s = snapshot_interval_s
        self.checkpoint_interval_s = checkpoint_interval_s
        self._checkpoint_at: dict[int, float] = {}
        self.on_adopt = on_adopt
        self.on_release = on_release
        self.with_redis = False
        self.with_webhook = False
        """Set by the service when Trinity's Redis or a webhook is configured."""
        self.owned: dict[int, PartitionState] = {}
        self._snapshot_at: dict[int, float] = {}
        self._lock = asyncio.Lock()
        self.writer = BatchWriter(
            consumer,
            store,
            metrics,
            lifecycle_topic=lifecycle_topic,
            control_topic=control_topic,
            on_decisions=on_decisions,
        )
        self.restorer = Restorer(store, policy, lifecycle_topic=lifecycle_topic, control_topic=control_topic)
        self._unsaved: set[int] = set()
        """Partitions whose engines hold a batch that was not handed to a write (it failed midway):
        their state must not be snapshotted, or the batch's outbox rows would be lost for good."""
        self.caught_up = False
        self.lags: dict[int, int] = {}
        """Lifecycle records not yet read, by owned partition (as of the latest batch)."""

    @staticmethod
    def create(kafka: KafkaConnection, group_id: str, session_timeout_s: float = 10) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            **kafka.options(),
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            partition_assignment_strategy=(RangePartitionAssignor,),
            max_poll_records=5000,
            session_timeout_ms=int(session_timeout_s * 1000),
            heartbeat_interval_ms=max(100, int(session_timeout_s * 1000 / 3)),
        )

    def subscribe(self) -> None:
        self.consumer.subscribe([self.lifecycle_topic, self.control_topic], listener=_Listener(self))

    # ---- the loop --------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batches = await self.consumer.getmany(timeout_ms=200, max_records=5000)
            async with self._lock:
                await self._process(batches)
        async with self._lock:
            await self.written()

    async def _process(self, batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        for tp, records in batches.items():
            state = self.owned.get(tp.partition)
            if state is None:
                continue
            if tp.topic == self.lifecycle_topic:
                state.add_lifecycle(records, fetched_to=0)
            else:
                state.add_control(records)
            self.metrics.events.labels(tp.topic).inc(len(records))
        items: list[OutboxItem] = []
        decided: list[DecisionRow] = []
        self._unsaved.update(self.owned)
        for partition, state in self.owned.items():
            lifecycle_tp = TopicPartition(self.lifecycle_topic, partition)
            state.add_lifecycle([], fetched_to=await self.consumer.position(lifecycle_tp))
            drained = state.drain()
            await self._dead_letters(drained, partition)
            self.metrics.count_outputs(drained.outputs, state.engine)
            items += outbox_items(drained.outputs, partition, redis=self.with_redis, webhook=self.with_webhook)
            decided += decision_rows(drained.applied, partition, self.policy.digest)
        now = time.monotonic()
        due = [p for p in self.owned if now - self._snapshot_at.get(p, -math.inf) >= self.snapshot_interval_s]
        marks = [p for p in self.owned if now - self._checkpoint_at.get(p, -math.inf) >= self.checkpoint_interval_s]
        await self._persist(items, due, decided, marks)
        self._unsaved.clear()  # the write has the batch: from here a failure surfaces in `written`
        self._update_gauges()

    async def _dead_letters(self, drained: Drained, partition: int) -> None:
        for rejected in drained.rejected:
            log.warning(
                "rejected %s/%d/%d: %s",
                rejected.topic,
                partition,
                rejected.offset,
                rejected.reason,
                extra={"action": "dead_letter"},
            )
            await self.publisher.dead_letter(rejected, partition)
            self.metrics.dlq.inc()

    async def _persist(
        self,
        items: list[OutboxItem],
        partitions: list[int],
        decided: list[DecisionRow],
        checkpoint_partitions: list[int],
    ) -> None:
        """Start writing this batch once the previous write is done: the next batch is read and
        decided meanwhile, and writes land in order (a crash replays what was not written)."""
        snaps = {p: self._snapshot(self.owned[p]) for p in {*partitions, *checkpoint_partitions} if p in self.owned}
        marks = {p: self._checkpoint(p, snaps[p]) for p in checkpoint_partitions if p in snaps}
        if not items and not snaps and not decided:
            return
        now = time.monotonic()
        for p in checkpoint_partitions:
            self._checkpoint_at[p] = now
        for p in snaps:
            self._snapshot_at[p] = now
        await self.writer.start(Batch(snaps, items, decided, marks))

    async def written(self) -> None:
        """Wait for the batch write in flight, if any (and raise what it raised)."""
        await self.writer.written()

    def _checkpoint(self, partition: int, snap: PartitionSnapshot) -> Checkpoint:
        clock = self.owned[partition].engine.clock
        return Checkpoint(
            partition, snap.lifecycle_offset, snap.control_offset, self.policy.digest, snap.snapshot, clock
        )

    def _snapshot(self, state: PartitionState) -> PartitionSnapshot:
        """The records changed since the last snapshot, and where the partition's logs stand."""
        changes = snapshots.changes(state.engine)
        return PartitionSnapshot(state.lifecycle_next, state.control_next, changes.header, changes)

    def _update_gauges(self) -> None:
        self.metrics.partitions.set(len(self.owned))
        self.metrics.show_engines(s.engine for s in self.owned.values())
        lagging = False
        self.lags = {}
        for p, state in self.owned.items():
            tp = TopicPartition(self.lifecycle_topic, p)
            high = self.consumer.highwater(tp)
            if high is None:
                continue
            lag = self.lags[p] = max(0, high - state.lifecycle_fetched)
            self.metrics.lag.labels(self.lifecycle_topic, str(p)).set(lag)
            lagging = lagging or lag > READY_LAG
        self.caught_up = bool(self.owned) and not lagging and not self.restorer.pending

    # ---- ownership -------------------------------------------------------------------------------

    async def adopt(self, assigned: set[TopicPartition]) -> None:
        """Take on the assigned partitions: one this instance released just now and nobody wrote since
        is kept as it is; the others are paused and restored in the background (`Restorer`)."""
        partitions = {tp.partition for tp in assigned if tp.topic == self.lifecycle_topic}
        partitions &= {tp.partition for tp in assigned if tp.topic == self.control_topic}
        async with self._lock:
            await self.written()
            new = partitions - set(self.owned) - set(self.restorer.pending)
            await self.on_adopt(new)
            later: dict[int, PartitionSnapshot] = {}
            for p in sorted(new):
                stored = await asyncio.to_thread(self.store.load_partition, self.lifecycle_topic, p)
                kept = self.restorer.unmoved(p, stored)
                if kept is not None:
                    self._install(p, kept, "kept (it did not move)")
                elif stored is None:
                    self._checkpoint_at[p] = -math.inf
                    self._install(p, self.restorer.fresh(p), "restored")  # nothing stored: nothing to wait for
                else:
                    later[p] = stored
            self.restorer.parked.clear()
            if later:
                self.consumer.pause(*self._both(list(later)))
                self.restorer.start(later, self._restored)
            self._update_gauges()

    async def _restored(self, partition: int, state: PartitionState, generation: int) -> None:
        latest = await asyncio.to_thread(self.store.audit.latest_checkpoint, self.lifecycle_topic, partition)
        async with self._lock:
            if not self.restorer.current(partition, generation):
                return  # revoked meanwhile (perhaps assigned again: a newer restore installs it)
            del self.restorer.pending[partition]
            self._checkpoint_at[partition] = self._last_checkpoint(latest)
            self._install(partition, state, "restored")
            self.consumer.resume(*self._both([partition]))
            self._update_gauges()

    def _last_checkpoint(self, latest: tuple[str, int] | None) -> float:
        """When the partition was last checkpointed, on this host's monotonic clock: never (so one is
        written at once) unless its latest checkpoint ran under this policy, within the interval
        (a replay switches policy at checkpoints: one is due wherever the policy changed)."""
        if latest is None or latest[0] != self.policy.digest:
            return -math.inf
        return time.monotonic() - max(0.0, time.time() - latest[1] / 1e6)

    def _install(self, partition: int, state: PartitionState, how: str) -> None:
        self.owned[partition] = state
        self._snapshot_at[partition] = time.monotonic()
        self.consumer.seek(TopicPartition(self.lifecycle_topic, partition), state.lifecycle_next)
        self.consumer.seek(TopicPartition(self.control_topic, partition), state.control_next)
        log.info(
            "partition %d %s: %d executions, lifecycle offset %d, control offset %d",
            partition,
            how,
            len(state.engine.records),
            state.lifecycle_next,
            state.control_next,
        )

    def _both(self, partitions: list[int]) -> list[TopicPartition]:
        return [TopicPartition(t, p) for p in partitions for t in (self.lifecycle_topic, self.control_topic)]

    async def release(self, revoked: set[TopicPartition] | None = None) -> None:
        """Snapshot and hand back partitions (all of them when `revoked` is None). A partition whose
        last batch was not fully written is handed back without a snapshot: its next owner restores
        the last one written and applies the batch again, outbox rows and all."""
        async with self._lock:
            try:
                await self.written()
                unwritten = set(self._unsaved)
            except Exception:
                log.exception("the last write failed: no partition is snapshotted on release")
                unwritten = set(self.owned)
            partitions = set(self.owned) if revoked is None else {tp.partition for tp in revoked}
            self.restorer.drop(set(self.restorer.pending) if revoked is None else partitions)
            partitions &= set(self.owned)
            if not partitions:
                return
            await self.on_release(partitions)
            if partitions & unwritten:
                log.warning(
                    "partitions %s released without a snapshot: their last batch was not written",
                    sorted(partitions & unwritten),
                )
            snaps = {p: self._snapshot(self.owned[p]) for p in partitions - unwritten}
            if snaps:
                await asyncio.to_thread(self.store.save, self.lifecycle_topic, snaps, [])
                await self.writer.commit(snaps)
            for p, snap in snaps.items():
                if revoked is not None:  # a rebalance: the partition may well come straight back
                    self.restorer.parked[p] = (self.owned[p], snap)
            for p in partitions:
                del self.owned[p]
                self._snapshot_at.pop(p, None)
                self._unsaved.discard(p)
            self._update_gauges()


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: PartitionedConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.owner.release(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.owner.adopt(set(assigned))
