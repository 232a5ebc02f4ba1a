"""Crashes, restarts, graceful stops, rebalances and outages: nothing lost, no effect twice."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import httpx
import pytest

from exec_watchdog.adapters.store import Store
from exec_watchdog.demo.local_broker import free_port
from exec_watchdog.demo.standin_fleet import StandinFleet
from tests.runtime.harness import (
    beating,
    create_topic,
    lifecycle,
    producer,
    read_topic,
    recoveries,
    running,
    spawn,
    test_settings,
    wait_for,
    wall,
    watched_for,
)

pytestmark = pytest.mark.kafka


async def test_a_restart_after_sigkill_resumes_without_repeating_the_terminate(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet
) -> None:
    settings = test_settings(kafka_bootstrap, tmp_path, fleet, auto_terminate=True)
    await create_topic(kafka_bootstrap, settings.lifecycle_topic, 2)
    fleet.start_execution("etl-bot", "hung-1")
    topic = settings.lifecycle_topic
    first = spawn(settings, tmp_path / "first.log")
    try:
        async with producer(kafka_bootstrap) as p:
            await p.send_and_wait(topic, lifecycle("started", "hung-1", "etl-bot", timeout_seconds=2), key=b"hung-1")

            async with beating(p, topic, "hung-1", "etl-bot"):
                # The moment the agent has been asked to terminate, the service dies without warning.
                assert await wait_for(lambda: fleet.terminates[("etl-bot", "hung-1")] >= 1, timeout_s=40)
                first.send_signal(signal.SIGKILL)
                first.wait(timeout=10)
                second = spawn(settings, tmp_path / "second.log")
                try:
                    records = await read_topic(
                        kafka_bootstrap,
                        settings.recoveries_topic,
                        until=lambda rs: bool(recoveries(rs, "auto_terminated")),
                        timeout_s=60,
                    )
                finally:
                    second.send_signal(signal.SIGTERM)
                    second.wait(timeout=15)
    finally:
        if first.poll() is None:
            first.kill()
    assert len({e["event_id"] for e in recoveries(records, "auto_terminated")}) == 1
    assert fleet.terminates[("etl-bot", "hung-1")] == 1, (tmp_path / "second.log").read_text()[-3000:]


async def test_sigterm_stops_within_10_seconds_and_saves_its_place(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet
) -> None:
    port = free_port()
    settings = test_settings(kafka_bootstrap, tmp_path, fleet, snapshot_interval_s=3600, http_port=port)
    await create_topic(kafka_bootstrap, settings.lifecycle_topic, 3)
    service = spawn(settings, tmp_path / "run.log")
    try:
        async with producer(kafka_bootstrap) as p:
            for n in range(30):
                key = f"x-{n}".encode()
                await p.send_and_wait(settings.lifecycle_topic, lifecycle("started", f"x-{n}", "bot"), key=key)
        assert await wait_for_metric(port, "watchdog_tracked_executions 30.0")
        store = Store(settings.database_url, settings.group_id)
        assert (
            sum(_tracked(store, settings.lifecycle_topic).values()) == 0
        )  # the interval is an hour: only a stop saves
        started = time.monotonic()
        service.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(service.wait, 15)
        took = time.monotonic() - started
    finally:
        if service.poll() is None:
            service.kill()
    assert code == 0 and took < 10, (tmp_path / "run.log").read_text()[-2000:]
    saved = _tracked(store, settings.lifecycle_topic)
    assert sum(saved.values()) == 30


async def wait_for_metric(port: int, line: str, timeout_s: float = 30) -> bool:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if line in (await client.get(f"http://127.0.0.1:{port}/metrics")).text:
                    return True
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    return False


def _tracked(store: Store, topic: str) -> dict[int, int]:
    return {
        p: sum(len(chunk.shifted) for chunk in store.partition_rows(topic, p))
        for p in range(3)
        if store.load_partition(topic, p)
    }


async def test_two_instances_share_the_partitions_and_one_takes_over_when_the_other_stops(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet
) -> None:
    settings = test_settings(kafka_bootstrap, tmp_path, fleet)
    await create_topic(kafka_bootstrap, settings.lifecycle_topic, 6)
    topic = settings.lifecycle_topic
    orphans = [f"orph-{n}" for n in range(40)]
    async with running(settings) as a, producer(kafka_bootstrap) as p:
        async with running(settings) as b:
            assert await wait_for(lambda: len(a.owned()) == 3 and len(b.owned()) == 3, timeout_s=30)
            assert set(a.owned()).isdisjoint(b.owned())
            for x in orphans[:20]:
                await p.send_and_wait(topic, lifecycle("started", x, "bot", -5), key=x.encode())
            await asyncio.sleep(1.0)
        # b has stopped: a owns everything now, including b's half-finished work.
        assert await wait_for(lambda: len(a.owned()) == 6, timeout_s=30)
        for x in orphans[20:]:
            await p.send_and_wait(topic, lifecycle("started", x, "bot", -5), key=x.encode())
        records = await read_topic(
            kafka_bootstrap,
            settings.recoveries_topic,
            until=lambda rs: {e["execution_id"] for e in recoveries(rs)} >= set(orphans),
            timeout_s=60,
        )
    decided = recoveries(records, "orphan_recovered")
    assert {e["execution_id"] for e in decided} == set(orphans)
    ids_per_execution = {x: {e["event_id"] for e in decided if e["execution_id"] == x} for x in orphans}
    assert all(len(ids) == 1 for ids in ids_per_execution.values())
    store = Store(settings.database_url, settings.group_id)
    for x in orphans:
        marks = [r for r in store.outbox_rows(x) if r.kind == "mark_failed"]
        assert len(marks) == 1 and marks[0].status == "done", (x, marks)


async def test_a_tick_never_overtakes_the_heartbeats_written_before_it(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet
) -> None:
    settings = test_settings(kafka_bootstrap, tmp_path, fleet, idle_after_s=600, heartbeat_timeout_s=30)
    topic, control = settings.lifecycle_topic, settings.control_topic
    await create_topic(kafka_bootstrap, topic, 1)
    await create_topic(kafka_bootstrap, control, 1)
    fleet.start_execution("bot", "alive-1")
    async with producer(kafka_bootstrap) as p:
        await p.send_and_wait(topic, lifecycle("started", "alive-1", "bot", -10), key=b"alive-1")
        # A backlog the service has not read yet, then the sign of life that matters.
        pad = {"blob": "x" * 4000}  # 1,500 x 4 KB: several fetches of backlog
        batch = [
            p.send(topic, lifecycle("started", f"noise-{n}", "bot", attributes=pad), key=b"n") for n in range(1500)
        ]
        await asyncio.gather(*batch)
        await p.send_and_wait(topic, lifecycle("heartbeat", "alive-1", "bot"), key=b"alive-1")
        end = (await p.send_and_wait(topic, lifecycle("heartbeat", "alive-1", "bot"), key=b"alive-1")).offset + 1
        # A tick 25 s later, vouching for everything written so far, is already in the control log:
        # applied before the heartbeats it vouches for, it would see 35 s of silence.
        tick = json.dumps({"schema_version": 1, "type": "watchdog.tick", "now": wall(25)}).encode()
        await p.send_and_wait(control, tick, partition=0, headers=[("through", str(end).encode())])
    async with running(settings) as service:
        assert await watched_for(service, 3.0)  # the 25 s tick and the watchdog's own after it, applied
    store = Store(settings.database_url, settings.group_id)
    assert [r.kind for r in store.outbox_rows("alive-1") if r.kind != "audit"] == []  # never suspected, probed
