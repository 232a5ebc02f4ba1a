"""Many keyed records packed into Kafka record batches away from the event loop.

`AIOKafkaProducer.send` costs the event loop some 20–30 µs a record (a future, a partition lookup,
an append under the accumulator). A lane that publishes thousands of records at a time packs them
here instead, in a worker thread, into record batches per partition, chosen from the key as `send`
chooses (the default partitioner over the topic's partitions); the loop then hands each whole batch
to the producer (`Publisher.send_packed`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder


@dataclass(frozen=True)
class Packed:
    """Record batches ready for one topic, each with its partition, in the order they were packed."""

    topic: str
    batches: list[tuple[int, BatchBuilder]]


class BatchPacker:
    def __init__(self, topic: str, partitions: Iterable[int], new_batch: Callable[[], BatchBuilder]) -> None:
        self.topic = topic
        self.partitions = sorted(partitions)
        if not self.partitions:
            raise ValueError(f"topic {topic!r} has no partitions known to the producer")
        self._new_batch = new_batch
        self._partitioner = DefaultPartitioner()

    def pack(self, records: Iterable[tuple[bytes, bytes]]) -> Packed:
        """`(key, value)` records into batches: per partition, in the order given (a full batch is
        closed and a new one opened, so order within a partition is kept across batches)."""
        open_batches: dict[int, BatchBuilder] = {}
        batches: list[tuple[int, BatchBuilder]] = []
        for key, value in records:
            partition = self._partitioner(key, self.partitions, self.partitions)
            batch = open_batches.get(partition)
            if batch is None or batch.append(timestamp=None, key=key, value=value) is None:
                batch = open_batches[partition] = self._new_batch()
                batches.append((partition, batch))
                if batch.append(timestamp=None, key=key, value=value) is None:
                    raise ValueError(f"a record of {len(value)} bytes does not fit an empty batch of {self.topic!r}")
        for _, batch in batches:
            batch.close()
        return Packed(self.topic, batches)
