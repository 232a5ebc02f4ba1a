"""A rebalance hands back every partition (eager protocol): one that comes straight back to the
same instance is kept as it was, not restored; one another instance wrote meanwhile is restored."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from aiokafka import TopicPartition

from consumers.partition import PartitionState
from consumers.partitioned import PartitionedConsumer
from exec_watchdog.adapters.store import PartitionSnapshot, Store
from statemachine import Engine
from tests.consumers.stubs import CONTROL, LIFE, consumer
from tests.consumers.test_crash_mid_batch import BATCHES, POLICY, commands, feed

BOTH = {TopicPartition(LIFE, 0), TopicPartition(CONTROL, 0)}


async def owning(store: Store, batches: int = 1) -> PartitionedConsumer:
    """A consumer that was assigned the partition, restored it and applied the first batches."""
    c = consumer(store, POLICY)
    await c.adopt(BOTH)
    await c.restorer.done()
    await feed(c, BATCHES[:batches])
    return c


async def test_a_partition_assigned_straight_back_is_kept_and_goes_on_deciding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'w.db'}", group_id="g")
    c = await owning(store)
    engine = c.owned[0].engine
    restored: list[int] = []

    def restore(partition: int) -> PartitionState:
        restored.append(partition)
        return PartitionState(partition, Engine(POLICY), lifecycle_topic=LIFE, control_topic=CONTROL)

    monkeypatch.setattr(c.restorer, "restore", restore)
    await c.release(BOTH)  # a member joined: everything is revoked...
    await c.adopt(BOTH)  # ...and this partition is assigned back
    await c.restorer.done()
    assert restored == [] and c.owned[0].engine is engine
    await feed(c, BATCHES[1:])
    assert commands(store) == ["probe", "mark_failed"]
    store.close()


async def test_a_partition_another_instance_wrote_meanwhile_is_restored_from_the_store(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'w.db'}", group_id="g")
    c = await owning(store)
    engine = c.owned[0].engine
    await c.release(BOTH)
    other = await owning(store, batches=2)  # it owned the partition for a while, and decided
    await other.release()
    await c.adopt(BOTH)
    await c.restorer.done()
    assert c.owned[0].engine is not engine and c.owned[0].lifecycle_next == 2
    assert commands(store) == ["probe", "mark_failed"]  # nothing decided twice
    store.close()


async def test_an_assignment_returns_at_once_and_the_partition_waits_paused_until_restored(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'w.db'}", group_id="g")
    await (await owning(store)).release()  # the partition has a snapshot to read
    c = consumer(store, POLICY)
    gate = threading.Event()
    slow = c.restorer.restore

    def restore(partition: int, snap: PartitionSnapshot) -> PartitionState:
        gate.wait(timeout=10)  # a big partition: the read takes a while
        return slow(partition, snap)

    c.restorer.restore = restore  # type: ignore[method-assign]
    paused: list[TopicPartition] = []
    c.consumer.pause = lambda *tps: paused.extend(tps)  # type: ignore[method-assign]
    await asyncio.wait_for(c.adopt(BOTH), timeout=2)  # the group protocol is not held up
    assert set(paused) == BOTH and 0 not in c.owned and not c.caught_up
    await c.release(BOTH)  # revoked while restoring: dropped, nothing written
    await c.adopt(BOTH)
    gate.set()
    await c.restorer.done()
    assert list(c.owned) == [0] and c.owned[0].lifecycle_next == 1
    store.close()
