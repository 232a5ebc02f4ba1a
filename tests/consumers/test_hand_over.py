"""A rebalance hands back every partition (eager protocol): one that comes straight back to the
same instance is kept as it was, not restored; one another instance wrote meanwhile is restored."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiokafka import TopicPartition

from exec_watchdog.adapters.store import Store
from statemachine import Engine
from tests.consumers.stubs import CONTROL, LIFE, consumer
from tests.consumers.test_crash_mid_batch import BATCHES, POLICY, commands, feed

BOTH = {TopicPartition(LIFE, 0), TopicPartition(CONTROL, 0)}


async def test_a_partition_assigned_straight_back_is_kept_and_goes_on_deciding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'w.db'}", group_id="g")
    c = consumer(store, POLICY)
    await c.adopt(BOTH)
    await feed(c, BATCHES[:1])
    engine = c.owned[0].engine
    restored: list[int] = []

    def restore(partition: int) -> tuple[Engine, int, int]:
        restored.append(partition)
        return Engine(POLICY), 0, 0

    monkeypatch.setattr(c, "_restore", restore)
    await c.release(BOTH)  # a member joined: everything is revoked...
    await c.adopt(BOTH)  # ...and this partition is assigned back
    assert restored == [] and c.owned[0].engine is engine
    await feed(c, BATCHES[1:])
    assert commands(store) == ["probe", "mark_failed"]
    store.close()


async def test_a_partition_another_instance_wrote_meanwhile_is_restored_from_the_store(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'w.db'}", group_id="g")
    c = consumer(store, POLICY)
    await c.adopt(BOTH)
    await feed(c, BATCHES[:1])
    engine = c.owned[0].engine
    await c.release(BOTH)
    other = consumer(store, POLICY)  # it owned the partition for a while, and decided
    await other.adopt(BOTH)
    await feed(other, BATCHES)
    await other.release()
    await c.adopt(BOTH)
    assert c.owned[0].engine is not engine and c.owned[0].lifecycle_next == 2
    assert commands(store) == ["probe", "mark_failed"]  # nothing decided twice
    store.close()
