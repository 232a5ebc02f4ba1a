"""The audit lane publishes every decision once the store has it, in order, and never delays effects."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from consumers.outbox_items import decision_json
from exec_watchdog.adapters.audit_store import DecisionRow
from exec_watchdog.adapters.kafka_connection import KafkaConnection
from exec_watchdog.adapters.store import OutboxItem, Store
from exec_watchdog.service.audit_lane import BATCH, GIVE_WAY_S, AuditLane
from producers.publisher import Publisher
from tests.runtime.harness import read_topic

LIFE = "executions.lifecycle"


def started(partition: int, offset: int) -> DecisionRow:
    x = f"x-{partition}-{offset}"
    body = json.dumps({"type": "execution.started", "execution_id": x})
    kind = "execution.started"
    return DecisionRow(partition, LIFE, offset, x, f"e-{offset}", kind, body, None, "running", "d", "[]", 1)


@asynccontextmanager
async def lane_parts(bootstrap: str, tmp_path: Path, *, partitions: int) -> AsyncIterator[tuple[str, Store, Publisher]]:
    """A fresh audit topic of `partitions`, a store, and a started publisher for it."""
    topic = f"audit-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    await admin.close()
    store = Store(f"sqlite:///{tmp_path / 'w.db'}", group_id="g")
    publisher = Publisher(KafkaConnection(bootstrap), recoveries="r", dlq="d", control="c", audit=topic)
    await publisher.start()
    try:
        yield topic, store, publisher
    finally:
        await publisher.stop()
        store.close()


async def test_decisions_reach_the_audit_topic_in_order_once_and_resume_after_a_restart(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    async with lane_parts(kafka_bootstrap, tmp_path, partitions=3) as (topic, store, publisher):
        first = [started(0, n) for n in range(BATCH + 7)]  # more than one batch
        store.save(LIFE, {}, [], first)
        lane = AuditLane(store.audit, publisher, topic=LIFE, owned=lambda: [0])
        assert await lane.publish_once() == BATCH
        assert await lane.publish_once() == 7
        assert await lane.publish_once() == 0  # the cursor moved: nothing is sent twice
        store.save(LIFE, {}, [], [started(0, BATCH + 7), started(1, 0)])
        restarted = AuditLane(store.audit, publisher, topic=LIFE, owned=lambda: [0, 1])
        assert await restarted.publish_once() == 1
        records = await read_topic(kafka_bootstrap, topic, until=lambda r: len(r) >= BATCH + 9, timeout_s=30)
        # a record sent one at a time with the same key lands where the lane put that execution's
        sent = await publisher.producer.send_and_wait(topic, b"{}", key=b"x-0-5")
    assert len(records) == BATCH + 9
    assert {r.partition for r in records} == {0, 1, 2}  # spread by key, as `send` would
    assert next(r.partition for r in records if r.key == b"x-0-5") == sent.partition
    ours = [r for r in records if r.key and r.key.startswith(b"x-0-")]  # lifecycle partition 0's decisions
    offsets = sorted(int(r.json()["source"].rsplit("/", 1)[1]) for r in ours)
    assert offsets == list(range(BATCH + 8))
    by_partition: dict[int, list[int]] = {}
    for r in ours:
        by_partition.setdefault(r.partition, []).append(int(r.json()["source"].rsplit("/", 1)[1]))
    assert all(seen == sorted(seen) for seen in by_partition.values())  # in order where it matters
    assert next(r for r in records if r.key == b"x-0-0").json() == json.loads(decision_json(first[0]))


async def test_the_lane_gives_way_while_the_instance_is_busy_but_not_for_ever(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    busy, restoring = True, True
    async with lane_parts(kafka_bootstrap, tmp_path, partitions=1) as (_, store, publisher):
        store.save(LIFE, {}, [], [started(0, 0), started(1, 0)])
        lane = AuditLane(
            store.audit, publisher, topic=LIFE, owned=lambda: [0, 1], busy=lambda: busy, restoring=lambda: restoring
        )
        held = asyncio.create_task(lane.publish_once())
        await asyncio.sleep(GIVE_WAY_S * 1.5)  # a restore holds it for as long as it lasts
        assert not held.done() and store.audit.unpublished_count(LIFE, 0) == 1
        restoring = False
        assert await held == 1
        store.save(LIFE, {}, [], [started(0, 1), started(1, 1)])
        started_at = time.monotonic()
        assert await lane.publish_once() == 1
        waited = time.monotonic() - started_at
        assert 2 * GIVE_WAY_S <= waited < 2 * GIVE_WAY_S + 1.5  # it waited before each batch, then sent
        store.save(LIFE, {}, [], [started(0, 2)])
        busy = False
        started_at = time.monotonic()
        assert await lane.publish_once() == 1
        assert time.monotonic() - started_at < GIVE_WAY_S / 2
        assert store.audit.unpublished_count(LIFE, 0) == 0


def test_a_burst_of_decisions_never_queues_ahead_of_an_effect(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'w.db'}", group_id="g")
    store.save(LIFE, {}, [], [started(0, n) for n in range(20_000)])
    store.save(LIFE, {}, [OutboxItem("probe-1#0", 0, "probe", "x-0-1", "a", "{}")])
    claimed = store.claim([0], "me", limit=10)
    assert [r.id for r in claimed] == ["probe-1#0"]
    assert store.audit.unpublished_count(LIFE, 0) == 20_000
    store.close()
