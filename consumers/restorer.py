"""How an assigned partition comes back: kept as this instance left it, or restored in the background.

A rebalance revokes every partition (the eager protocol); one assigned straight back is kept if the
store still holds exactly the snapshot this instance wrote when it was revoked.

Restoring a partition of a million executions takes seconds; done inside the rebalance callback it
holds up the group protocol (and past the session timeout the broker drops the member, which then
rejoins and restores again). Instead the assignment returns at once with the new partitions paused;
each is restored in a worker thread, one after another, and handed to the consumer, which seeks to
its positions and resumes it. A partition revoked meanwhile is dropped; one revoked and assigned
again starts a new restore (a generation number tells a late result from a current one).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from consumers.partition import PartitionState
from exec_watchdog.adapters import snapshots
from exec_watchdog.adapters.store import PartitionSnapshot, Store
from statemachine.engine import Engine
from statemachine.policy import Policy

log = logging.getLogger(__name__)


class Restorer:
    def __init__(self, store: Store, policy: Policy, *, lifecycle_topic: str, control_topic: str) -> None:
        self.store = store
        self.policy = policy
        self.lifecycle_topic = lifecycle_topic
        self.control_topic = control_topic
        self.pending: dict[int, int] = {}
        """Partitions being restored -> their assignment's generation."""
        self.parked: dict[int, tuple[PartitionState, PartitionSnapshot]] = {}
        """Partitions revoked by a rebalance, with the snapshot written at their release: one assigned
        back to this instance is kept as it is, not restored, unless someone else wrote it meanwhile."""
        self._generation = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def start(
        self, stored: dict[int, PartitionSnapshot], install: Callable[[int, PartitionState, int], Awaitable[None]]
    ) -> None:
        """Restore these partitions from their stored snapshots, one after another; `install` each as
        soon as it is ready."""
        self._generation += 1
        for p in stored:
            self.pending[p] = self._generation
        task = asyncio.create_task(self._run(stored, self._generation, install), name="restore")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def unmoved(self, partition: int, stored: PartitionSnapshot | None) -> PartitionState | None:
        """The partition as this instance released it, if the store still holds exactly what it wrote
        then (`stored`: nobody applied anything to it since): reading resumes where applying stopped."""
        parked = self.parked.pop(partition, None)
        if parked is None:
            return None
        state, written = parked
        if stored is None or (stored.lifecycle_offset, stored.control_offset, stored.snapshot) != (
            written.lifecycle_offset,
            written.control_offset,
            written.snapshot,
        ):
            return None
        state.rewind()
        return state

    def drop(self, partitions: set[int]) -> None:
        """These were revoked: a restore under way for them is not installed."""
        for p in partitions:
            self.pending.pop(p, None)
        if not self.pending:
            for task in self._tasks:
                task.cancel()  # nothing left to install (a read under way ends in its thread)

    async def done(self) -> None:
        """Until every restore started so far has ended (and raise what one raised)."""
        while self._tasks:
            task = next(iter(self._tasks))
            try:
                await task
            except asyncio.CancelledError:
                if not task.cancelled():
                    raise  # the waiter itself was cancelled
            finally:
                self._tasks.discard(task)

    def current(self, partition: int, generation: int) -> bool:
        """Still assigned by the assignment that started this restore (checked under the consumer's lock)."""
        return self.pending.get(partition) == generation

    async def _run(
        self,
        stored: dict[int, PartitionSnapshot],
        generation: int,
        install: Callable[[int, PartitionState, int], Awaitable[None]],
    ) -> None:
        for p, snap in stored.items():
            if self.current(p, generation):
                await install(p, await asyncio.to_thread(self.restore, p, snap), generation)

    def restore(self, partition: int, snap: PartitionSnapshot) -> PartitionState:
        """The partition's engine and log positions as last written: the snapshot's header, its rows."""
        rows = self.store.partition_rows(self.lifecycle_topic, partition)
        engine = snapshots.decode(snap.snapshot, self.policy, rows)
        return self._state(partition, engine, snap.lifecycle_offset, snap.control_offset)

    def fresh(self, partition: int) -> PartitionState:
        """A partition nothing was ever stored for: an empty engine, both logs from their start."""
        return self._state(partition, Engine(self.policy), 0, 0)

    def _state(self, partition: int, engine: Engine, lifecycle_offset: int, control_offset: int) -> PartitionState:
        return PartitionState(
            partition,
            engine,
            lifecycle_topic=self.lifecycle_topic,
            control_topic=self.control_topic,
            lifecycle_offset=lifecycle_offset,
            control_offset=control_offset,
            keep_quiet=False,
        )
