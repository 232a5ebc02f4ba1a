"""`/readyz` says ready only while partitions are assigned and the lifecycle lag is small."""

from __future__ import annotations

from pathlib import Path

from aiokafka import TopicPartition

from consumers.partitioned import READY_LAG
from exec_watchdog.adapters.store import Store
from statemachine import Policy
from tests.consumers.stubs import CONTROL, LIFE, consumer


async def test_ready_only_when_assigned_and_caught_up(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'w.db'}", group_id="g")
    c = consumer(store, Policy())
    c._update_gauges()
    assert not c.caught_up  # nothing assigned yet
    await c.adopt({TopicPartition(LIFE, 0), TopicPartition(CONTROL, 0)})
    await c.restorer.done()
    kafka = c.consumer
    kafka.high = READY_LAG + 500  # type: ignore[attr-defined]
    c._update_gauges()
    assert not c.caught_up  # 1,500 records behind
    c.owned[0].lifecycle_fetched = 600
    c._update_gauges()
    assert c.caught_up  # 900 behind: within READY_LAG
    store.close()
