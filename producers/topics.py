"""Topics the service owns are created at start-up; the input topic is never created or altered."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

log = logging.getLogger(__name__)


class TopicLayoutError(Exception):
    """The topics exist but cannot work together (e.g. partition counts differ)."""


async def partition_count(admin: AIOKafkaAdminClient, topic: str) -> int | None:
    # Describing a missing topic can create it (auto-creation on metadata requests): list first.
    if topic not in await admin.list_topics():
        return None
    described = await admin.describe_topics([topic])
    for entry in described:
        if entry["topic"] == topic and entry["error_code"] == 0:
            return len(entry["partitions"])
    return None


async def _visible(admin: AIOKafkaAdminClient, topic: str, timeout_s: float = 30) -> int | None:
    """A topic just created: its partition count once the broker asked knows it. A multi-broker cluster
    acknowledges creation on the controller before every broker's metadata has caught up."""
    deadline = time.monotonic() + timeout_s
    while (count := await partition_count(admin, topic)) is None and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    return count


async def wait_for_input_topic(admin: AIOKafkaAdminClient, topic: str, stop: asyncio.Event) -> int | None:
    """The input topic belongs to the platform: wait for it to exist, never create it."""
    warned = False
    while not stop.is_set():
        count = await partition_count(admin, topic)
        if count:
            return count
        if not warned:
            log.warning("input topic %s does not exist yet; waiting for the platform to create it", topic)
            warned = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=2)
    return None


async def ensure_owned_topics(
    admin: AIOKafkaAdminClient, *, control: str, partitions: int, others: list[str], replication: int | None
) -> None:
    """Create the control topic with the input's partition count, and the other owned topics.

    Replication is min(3, brokers) unless set; with three or more replicas a write must reach two
    (`min.insync.replicas=2`), so the producers' `acks=all` survives one broker down and loses nothing
    when a leader dies."""
    if replication is None:
        brokers = (await admin.describe_cluster())["brokers"]
        replication = max(1, min(3, len(brokers)))
    configs = {"min.insync.replicas": "2"} if replication >= 3 else {}
    wanted = {control: partitions, **{name: partitions for name in others}}
    for name, count in wanted.items():
        existing = await partition_count(admin, name)
        if existing is None:
            try:
                await admin.create_topics([NewTopic(name, count, replication, topic_configs=configs)])
                log.info("created topic %s (%d partitions, replication %d)", name, count, replication)
            except TopicAlreadyExistsError:
                pass
            existing = await _visible(admin, name)
        if name == control and existing != partitions:
            raise TopicLayoutError(
                f"topic {control} has {existing} partitions but the input topic has {partitions}; "
                f"they must match (delete {control} or set WATCHDOG_CONTROL_TOPIC to a new name)"
            )
