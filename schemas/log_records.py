"""Records on the two logs as both sides see them: what a consumer reads of a Kafka record, the
`through` header a control record carries (the lifecycle offset it vouches for), and a record
rejected to the DLQ. The producer writes these and the consumer reads them, so they live here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

THROUGH_HEADER = "through"


class KafkaRecord(Protocol):
    """What the partition reads of a record: aiokafka's `ConsumerRecord` has it, and so has `LogRecord`."""

    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


@dataclass(frozen=True, slots=True)
class LogRecord:
    """A Kafka record as the partition sees it (decoupled from aiokafka for tests and replay)."""

    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


def through_of(record: KafkaRecord) -> int:
    """The lifecycle offset a control record vouches for (0 when it names none)."""
    for name, value in record.headers:
        if name == THROUGH_HEADER:
            try:
                return max(0, int(value))
            except ValueError:
                return 0
    return 0


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that is not a valid input: it goes to the DLQ with its reason and source."""

    topic: str
    offset: int
    record: KafkaRecord
    reason: str
