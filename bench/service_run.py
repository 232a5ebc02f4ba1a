"""The service as the benchmarks run it: in this process, on its own topics and a fresh SQLite store."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from exec_watchdog.demo.standin_fleet import StandinFleet
from exec_watchdog.service.collector import tune_for_long_lived_state
from exec_watchdog.service.service import Service
from exec_watchdog.settings import load_settings


async def create_topic(bootstrap: str, topic: str, partitions: int, replication: int = 1) -> None:
    """Create the input topic, as the platform would."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, replication)])
    finally:
        await admin.close()


@asynccontextmanager
async def running_service(
    bootstrap: str, lifecycle_topic: str, fleet: StandinFleet, **settings: Any
) -> AsyncIterator[Service]:
    """A started service that owns its partitions; stopped on exit."""
    tmp = Path(tempfile.mkdtemp())
    tag = uuid.uuid4().hex[:6]
    values: dict[str, Any] = {
        "kafka_bootstrap": bootstrap,
        "lifecycle_topic": lifecycle_topic,
        "group_id": f"wd-{tag}",
        "control_topic": f"control-{tag}",
        "recoveries_topic": f"rec-{tag}",
        "dlq_topic": f"dlq-{tag}",
        "audit_topic": f"audit-{tag}",
        "database_url": f"sqlite:///{tmp / 'w.db'}",
        "tick_interval_s": 0.2,
        "http_port": 0,
        "agent_url_template": fleet.url_template,
        "brake_enabled": False,
        **settings,
    }
    tune_for_long_lived_state()  # as `exec-watchdog run` does
    service = Service(load_settings(None, **values))
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        while not service.owned():
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        yield service
    finally:
        stop.set()
        await task


def applied_lifecycle(service: Service) -> int:
    """Lifecycle records applied so far, over the partitions this service owns."""
    assert service.consumer is not None
    return sum(p.lifecycle_next for p in service.consumer.owned.values())
