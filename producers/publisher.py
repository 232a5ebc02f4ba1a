"""Everything the service writes to Kafka: recovery events, dead letters, and its control log."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Literal

from aiokafka import AIOKafkaProducer

from exec_watchdog.adapters.kafka_connection import KafkaConnection
from producers.batch_packer import BatchPacker, Packed
from schemas.inputs import ControlEvent
from schemas.log_records import THROUGH_HEADER, Rejected

RecordKind = Literal["recovery", "audit"]


class Publisher:
    def __init__(self, kafka: KafkaConnection, *, recoveries: str, dlq: str, control: str, audit: str) -> None:
        self.kafka = kafka
        self._producer: AIOKafkaProducer | None = None
        self.recoveries_topic = recoveries
        self.dlq_topic = dlq
        self.control_topic = control
        self.audit_topic = audit

    async def start(self) -> None:
        # Plain at-least-once producer: exactly-once comes from deterministic ids and the ledger,
        # not from Kafka transactions or idempotent producers.
        self._producer = AIOKafkaProducer(**self.kafka.options(), acks="all", enable_idempotence=False, linger_ms=5)
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    @property
    def producer(self) -> AIOKafkaProducer:
        assert self._producer is not None, "Publisher.start() first"
        return self._producer

    async def records(self, records: Sequence[tuple[RecordKind, str, str]]) -> None:
        """Send many `(kind, json, execution_id)` recovery or audit records; return when the broker has all."""
        deliveries = []
        for kind, payload, execution_id in records:
            topic = self.recoveries_topic if kind == "recovery" else self.audit_topic
            deliveries.append(await self.producer.send(topic, payload.encode(), key=execution_id.encode()))
        await asyncio.gather(*deliveries)

    async def packer(self, topic: str) -> BatchPacker:
        """Packs records for `topic` into batches (in any thread), partitioned as `send` would."""
        partitions = await self.producer.partitions_for(topic)
        return BatchPacker(topic, partitions, self.producer.create_batch)

    async def send_packed(self, packed: Packed) -> None:
        """Hand packed batches to the producer, in order; return when the broker has all."""
        deliveries = [
            await self.producer.send_batch(batch, packed.topic, partition=partition)
            for partition, batch in packed.batches
        ]
        await asyncio.gather(*deliveries)

    async def dead_letter(self, rejected: Rejected, partition: int) -> None:
        record = rejected.record
        headers = [
            ("error", rejected.reason.encode()),
            ("source", f"{rejected.topic}/{partition}/{rejected.offset}".encode()),
        ]
        await self.producer.send_and_wait(self.dlq_topic, record.value, key=record.key, headers=headers)

    async def control(self, event: ControlEvent, partition: int, *, key: str | None = None, through: int = 0) -> None:
        """Append to the control log of `partition`; `through` = lifecycle records to apply first."""
        headers = [(THROUGH_HEADER, str(through).encode())] if through else []
        payload = event.model_dump_json(exclude_none=True).encode()
        await self.producer.send_and_wait(
            self.control_topic,
            payload,
            key=None if key is None else key.encode(),
            partition=partition,
            headers=headers,
        )
