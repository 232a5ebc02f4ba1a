"""Finishing a recovery on the platform: the row, the capacity slot, the UI stream, the webhook."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import redis

from exec_watchdog.adapters.store import Store
from exec_watchdog.adapters.trinity_time import trinity_time
from exec_watchdog.demo.standin_fleet import StandinFleet
from exec_watchdog.demo.webhook_receiver import Receiver
from exec_watchdog.service.webhook import signature
from tests.runtime.harness import (
    create_topic,
    lifecycle,
    producer,
    read_topic,
    recoveries,
    running,
    test_settings,
    wait_for,
)
from tests.services.platform_tables import platform_tables
from tests.services.require import REDIS_URL, redis_url

pytestmark = pytest.mark.kafka


@pytest.fixture
def trinity_redis() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url(), decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


async def test_a_recovery_leaves_the_row_failed_the_slot_free_the_ui_told_and_the_webhook_called(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet, trinity_redis: redis.Redis, receiver: Receiver
) -> None:
    agent = f"slot-bot-{int(time.time() * 1000) % 10**8}"
    receiver.fail_first = 2  # the receiver answers 500 twice before it accepts
    with platform_tables("sqlite", tmp_path) as platform:
        platform.execution("orphan-1", agent)
        platform.execution("busy-1", agent)
        fleet.start_execution(agent, "busy-1")
        for x in ("orphan-1", "busy-1"):  # both hold a capacity slot, the way Trinity's scheduler takes one
            trinity_redis.zadd(f"agent:slots:{agent}", {x: time.time()})
            trinity_redis.hset(f"agent:slot:{agent}:{x}", mapping={"execution_id": x, "timeout_seconds": "3600"})
        settings = test_settings(
            kafka_bootstrap,
            tmp_path,
            fleet,
            platform_database_url=platform.url,
            platform_redis_url=REDIS_URL,
            notify_webhook_url=receiver.url,
            notify_webhook_secret="hook-secret",
        )
        await create_topic(kafka_bootstrap, settings.lifecycle_topic, 1)
        async with running(settings), producer(kafka_bootstrap) as p:
            await p.send_and_wait(
                settings.lifecycle_topic, lifecycle("started", "orphan-1", agent, -5), key=b"orphan-1"
            )
            for _ in range(12):
                await p.send_and_wait(settings.lifecycle_topic, lifecycle("heartbeat", "busy-1", agent), key=b"busy-1")
                await asyncio.sleep(0.25)
            records = await read_topic(
                kafka_bootstrap, settings.recoveries_topic, until=lambda rs: bool(recoveries(rs))
            )
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not receiver.deliveries:
                await asyncio.sleep(0.1)
        [event] = recoveries(records)
        assert event["action"] == "orphan_recovered"
        assert platform.row("orphan-1")["status"] == "failed"
    assert trinity_redis.zscore(f"agent:slots:{agent}", "orphan-1") is None
    assert not trinity_redis.exists(f"agent:slot:{agent}:orphan-1")
    assert trinity_redis.zscore(f"agent:slots:{agent}", "busy-1") is not None  # only the recovered slot
    assert trinity_redis.exists(f"agent:slot:{agent}:busy-1")
    stream = [f for _, f in trinity_redis.xrange("trinity:events") if f.get("agent_name") == agent]
    [entry] = stream
    assert entry["scope"] == "all"
    payload = json.loads(entry["payload"])
    assert payload == {
        "type": "watchdog_recovery",
        "agent_name": agent,
        "execution_id": "orphan-1",
        "action": "orphan_recovered",
        "reason": event["reason"],
        "timestamp": trinity_time(datetime.fromisoformat(event["decided_at"])),  # as Trinity writes times
    }
    [(delivered, headers, body)] = receiver.deliveries
    assert delivered == event and receiver.attempts == 3
    assert headers["X-Watchdog-Signature"] == signature("hook-secret", body)
    trinity_redis.delete(f"agent:slots:{agent}", f"agent:slot:{agent}:busy-1")


async def test_a_dead_webhook_does_not_delay_any_recovery(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet, receiver: Receiver
) -> None:
    receiver.stall_s = 30  # accepts the connection, never answers in time
    settings = test_settings(kafka_bootstrap, tmp_path, fleet, notify_webhook_url=receiver.url, webhook_timeout_s=20)
    await create_topic(kafka_bootstrap, settings.lifecycle_topic, 2)
    orphans = [f"lost-{n}" for n in range(12)]
    async with running(settings), producer(kafka_bootstrap) as p:
        started = time.monotonic()
        for x in orphans:
            await p.send_and_wait(settings.lifecycle_topic, lifecycle("started", x, "bot", -5), key=x.encode())
        records = await read_topic(
            kafka_bootstrap,
            settings.recoveries_topic,
            timeout_s=30,
            until=lambda rs: {e["execution_id"] for e in recoveries(rs)} >= set(orphans),
        )
        took = time.monotonic() - started
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and receiver.attempts == 0:
            await asyncio.sleep(0.1)
    assert {e["execution_id"] for e in recoveries(records)} == set(orphans)
    assert took < 12, took  # silence (1.5 s) + probe + mark + publish, webhook or not
    assert receiver.attempts >= 1 and receiver.deliveries == []


async def test_a_webhook_that_never_accepts_is_given_up_and_a_redelivery_after_restart_keeps_its_event_id(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet, receiver: Receiver
) -> None:
    receiver.fail_first = 10**6
    settings = test_settings(kafka_bootstrap, tmp_path, fleet, notify_webhook_url=receiver.url, webhook_max_attempts=2)
    await create_topic(kafka_bootstrap, settings.lifecycle_topic, 1)
    async with running(settings) as service, producer(kafka_bootstrap) as p:
        await p.send_and_wait(settings.lifecycle_topic, lifecycle("started", "lost-1", "bot", -5), key=b"lost-1")
        gave_up = await wait_for(lambda: _webhook_outcomes(service.store, "lost-1") == ["gave_up"], timeout_s=30)
    assert gave_up and receiver.attempts == 2 and receiver.deliveries == []

    # A delivery cut short by a stop is offered again after the restart, with the same event id.
    later = test_settings(
        kafka_bootstrap,
        tmp_path,
        fleet,
        **{n: getattr(settings, n) for n in ("group_id", "lifecycle_topic", "recoveries_topic", "control_topic")},
        notify_webhook_url=receiver.url,
        webhook_max_attempts=100,
        database_url=settings.database_url,
    )
    async with running(later), producer(kafka_bootstrap) as p:
        await p.send_and_wait(later.lifecycle_topic, lifecycle("started", "lost-2", "bot", -5), key=b"lost-2")
        assert await wait_for(lambda: receiver.attempts >= 4, timeout_s=30)  # failing, retried
    receiver.fail_first = 0
    async with running(later) as service:
        assert await wait_for(lambda: bool(receiver.deliveries), timeout_s=30)
        assert await wait_for(lambda: _webhook_outcomes(service.store, "lost-2") == ["delivered"], timeout_s=10)
    ids = {json.loads(body)["event_id"] for body in receiver.bodies[2:]}
    [(delivered, _, _)] = receiver.deliveries
    assert ids == {delivered["event_id"]} and delivered["execution_id"] == "lost-2"


def _webhook_outcomes(store: Store, execution_id: str) -> list[str | None]:
    return [r.outcome for r in store.outbox_rows(execution_id) if r.kind == "webhook"]
