"""Running the real service against the real broker, and reading what it wrote."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.service_run import create_topic as create_topic  # one helper for the tests and the benchmarks
from exec_watchdog.demo.standin_fleet import StandinFleet
from exec_watchdog.service.service import Service
from exec_watchdog.settings import Settings, load_settings
from statemachine.timestamps import iso

FAST = {
    "heartbeat_timeout_s": 1.5,
    "min_age_s": 0.5,
    "tick_interval_s": 0.2,
    "probe_retry_s": 0.5,
    "probe_retry_max_s": 2,
    "command_retry_s": 0.5,
    "command_retry_max_s": 2,
    "snapshot_interval_s": 0.5,
    "http_port": 0,
}


def test_settings(bootstrap: str, tmp_path: Path, fleet: StandinFleet, **overrides: Any) -> Settings:
    tag = uuid.uuid4().hex[:8]
    values = {
        **FAST,
        "kafka_bootstrap": bootstrap,
        "database_url": f"sqlite:///{tmp_path / 'watchdog.db'}",
        "agent_url_template": fleet.url_template,
        "group_id": f"wd-{tag}",
        "lifecycle_topic": f"lifecycle-{tag}",
        "recoveries_topic": f"recoveries-{tag}",
        "dlq_topic": f"dlq-{tag}",
        "control_topic": f"control-{tag}",
        **overrides,
    }
    return load_settings(None, **values)


test_settings.__test__ = False  # type: ignore[attr-defined]


def wall(offset_s: float = 0.0) -> str:
    return iso(time.time_ns() // 1000 + round(offset_s * 1_000_000))


def lifecycle(kind: str, execution_id: str, agent: str, offset_s: float = 0.0, **extra: Any) -> bytes:
    body = {
        "schema_version": 1,
        "event_id": f"{execution_id}-{kind}-{uuid.uuid4().hex[:8]}",
        "type": f"execution.{kind}",
        "execution_id": execution_id,
        "agent_name": agent,
        "occurred_at": wall(offset_s),
        **extra,
    }
    return json.dumps(body).encode()


@asynccontextmanager
async def producer(bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """The platform's producer: a write counts once every in-sync replica has it (acks=all)."""
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


@dataclass
class Record:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]

    def json(self) -> Any:
        return json.loads(self.value or b"null")


async def read_topic(
    bootstrap: str, topic: str, *, until: Callable[[list[Record]], bool], timeout_s: float = 30
) -> list[Record]:
    """Read a topic from the start until `until(records)` holds or the time is up."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    records: list[Record] = []
    try:
        deadline = time.monotonic() + timeout_s
        partitions: set[int] = set()
        while time.monotonic() < deadline:
            found = consumer.partitions_for_topic(topic) or set()
            if not found:
                await consumer._client.force_metadata_update()  # the topic may not exist yet
            if found - partitions:
                partitions = set(found)
                tps = [TopicPartition(topic, p) for p in sorted(partitions)]
                consumer.assign(tps)
                await consumer.seek_to_beginning(*tps)
                records = []
            if partitions:
                batches = await consumer.getmany(timeout_ms=200)
                for tp, messages in batches.items():
                    records += [Record(tp.partition, m.offset, m.key, m.value, dict(m.headers or ())) for m in messages]
            else:
                await asyncio.sleep(0.2)
            if until(records):
                break
    finally:
        await consumer.stop()
    return records


async def read_to_end(bootstrap: str, topic: str, timeout_s: float = 30) -> list[Record]:
    """Every record the topic holds now: read up to the end offsets taken at the start."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    records: list[Record] = []
    try:
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        assert tps, f"topic {topic} does not exist"
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout_s
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            assert time.monotonic() < deadline, f"{topic} not read to its end within {timeout_s} s"
            for tp, messages in (await consumer.getmany(timeout_ms=200)).items():
                records += [Record(tp.partition, m.offset, m.key, m.value, dict(m.headers or ())) for m in messages]
    finally:
        await consumer.stop()
    return records


@asynccontextmanager
async def running(settings: Settings, **kwargs: Any) -> AsyncIterator[Service]:
    """The real service in this process, until the block ends (then a graceful stop)."""
    service = Service(settings, **kwargs)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        await wait_for(lambda: bool(service.owned()) or task.done(), timeout_s=30)
        if task.done():
            task.result()
        yield service
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=15)


async def wait_for(condition: Callable[[], bool], timeout_s: float = 20, every_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(every_s)
    return condition()


def recoveries(records: list[Record], action: str | None = None) -> list[dict[str, Any]]:
    events = [r.json() for r in records]
    return [e for e in events if action is None or e["action"] == action]


def decided(records: list[Record], action: str | None = None) -> list[dict[str, Any]]:
    """The recovery decisions, each once: delivery is at least once, and a redelivered event keeps its
    `event_id` (the contract's way for receivers to drop repeats)."""
    return list({e["event_id"]: e for e in recoveries(records, action)}.values())


MARKING = ("orphan_recovered", "auto_terminated")
"""The recovery actions that mean an execution was marked failed."""


def marked(records: list[Record]) -> set[tuple[str, str]]:
    """(execution, action) of every recovery that marked an execution failed."""
    return {(e["execution_id"], e["action"]) for e in recoveries(records) if e["action"] in MARKING}


def settings_env(settings: Settings) -> dict[str, str]:
    """The same settings as environment variables, for `exec-watchdog run` in a subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        text = (
            json.dumps(value)
            if isinstance(value, dict)
            else str(value).lower()
            if isinstance(value, bool)
            else str(value)
        )
        env[f"WATCHDOG_{name.upper()}"] = text
    return env


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """`exec-watchdog ARGS...` with these settings, in a subprocess, to its end."""
    return subprocess.run(
        [sys.executable, "-m", "exec_watchdog", *args],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=120,
    )


def spawn(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "exec_watchdog", "run"],
            env=settings_env(settings),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[2],
        )


@asynccontextmanager
async def beating(p: AIOKafkaProducer, topic: str, execution_id: str, agent: str) -> AsyncIterator[None]:
    """Heartbeats for one execution, every 0.2 s, while the block runs: the process is alive."""

    async def beat() -> None:
        while True:
            await p.send_and_wait(topic, lifecycle("heartbeat", execution_id, agent), key=execution_id.encode())
            await asyncio.sleep(0.2)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()


async def watched_for(service: Service, seconds: float, timeout_s: float = 30) -> bool:
    """A positive sign that the service has been watching: every partition it owns has applied a tick
    stamped `seconds` after this call. A tick vouches for every lifecycle record written before it was
    read, and follows every result published before it in the control log: what was sent before
    this call has been applied, and that much of the watchdog's own time has passed over it."""
    target = time.time_ns() // 1000 + round(seconds * 1_000_000)

    def watched() -> bool:
        owned = service.consumer.owned if service.consumer is not None else {}
        return bool(owned) and all(s.engine.clock is not None and s.engine.clock >= target for s in owned.values())

    return await wait_for(watched, timeout_s=timeout_s)
