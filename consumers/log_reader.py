"""Reading a stretch of one partition's log back from Kafka (for replays and exports)."""

from __future__ import annotations

import time

from aiokafka import AIOKafkaConsumer, TopicPartition

from exec_watchdog.adapters.kafka_connection import KafkaConnection
from schemas.log_records import LogRecord


class LogReader:
    def __init__(self, kafka: KafkaConnection) -> None:
        self.kafka = kafka

    async def read(self, topic: str, partition: int, start: int, end: int, timeout_s: float = 30) -> list[LogRecord]:
        """Records with offsets in [start, end), as far as the broker still holds them."""
        if end <= start:
            return []
        consumer = AIOKafkaConsumer(**self.kafka.options(), enable_auto_commit=False)
        await consumer.start()
        tp = TopicPartition(topic, partition)
        records: list[LogRecord] = []
        try:
            consumer.assign([tp])
            high = (await consumer.end_offsets([tp]))[tp]
            last = min(end, high)
            consumer.seek(tp, start)
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline and await consumer.position(tp) < last:
                batch = await consumer.getmany(tp, timeout_ms=500, max_records=10000)
                for message in batch.get(tp, []):
                    if message.offset < end:
                        records.append(
                            LogRecord(message.offset, message.key, message.value, tuple(message.headers or ()))
                        )
        finally:
            await consumer.stop()
        return records
