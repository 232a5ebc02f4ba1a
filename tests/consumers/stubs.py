"""A `PartitionedConsumer` without a broker: what it asks of aiokafka and of the publisher, stubbed."""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition

from consumers.partitioned import PartitionedConsumer
from exec_watchdog.adapters.store import Store
from exec_watchdog.telemetry.metrics import Metrics
from statemachine import Policy

LIFE, CONTROL = "life", "ctl"


class StubKafka:
    """What the consumer asks of aiokafka besides records: positions, high-water marks, commits."""

    def __init__(self) -> None:
        self.fetched = 0
        self.high: int | None = None

    async def position(self, tp: TopicPartition) -> int:
        return self.fetched

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.high

    def seek(self, tp: TopicPartition, offset: int) -> None:
        pass

    def pause(self, *tps: TopicPartition) -> None:
        pass

    def resume(self, *tps: TopicPartition) -> None:
        pass

    async def commit(self, offsets: Any) -> None:
        pass


class StubPublisher:
    def __init__(self) -> None:
        self.dead: list[int] = []

    async def dead_letter(self, rejected: Any, partition: int) -> None:
        self.dead.append(rejected.offset)


def consumer(store: Store, policy: Policy) -> PartitionedConsumer:
    async def nothing(partitions: set[int]) -> None:
        pass

    return PartitionedConsumer(
        StubKafka(),  # type: ignore[arg-type]
        store=store,
        publisher=StubPublisher(),  # type: ignore[arg-type]
        metrics=Metrics(),
        policy=policy,
        lifecycle_topic=LIFE,
        control_topic=CONTROL,
        snapshot_interval_s=0,  # a snapshot with every batch
        checkpoint_interval_s=10**6,
        on_decisions=lambda: None,
        on_adopt=nothing,
        on_release=nothing,
    )
