"""`bridge` + `run` on a Trinity-shaped deployment that emits no lifecycle events."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from exec_watchdog.adapters.agent_http import HttpAgentApi
from exec_watchdog.adapters.trinity_db import TrinityDatabase
from exec_watchdog.bridge.activity import ActivityWatch, StreamOpener
from exec_watchdog.bridge.run import Bridge
from exec_watchdog.demo.standin_fleet import StandinFleet
from schemas.inputs import LifecycleEvent
from tests.runtime.harness import (
    create_topic,
    producer,
    read_to_end,
    read_topic,
    recoveries,
    running,
    test_settings,
    wait_for,
    watched_for,
)
from tests.services.platform_tables import platform_tables

pytestmark = pytest.mark.kafka
ORPHAN_ERROR = "Execution completed on agent but status not reported — recovered by watchdog"


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_bridge_and_run_recover_an_orphan_on_a_trinity_deployment(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet, database: str
) -> None:
    with platform_tables(database, tmp_path) as platform:
        platform.execution("healthy-1", "bridge-bot")
        platform.execution("orphan-1", "bridge-bot")  # the agent lost it: status never reported
        platform.execution("done-1", "bridge-bot")
        fleet.start_execution("bridge-bot", "healthy-1")
        fleet.start_execution("bridge-bot", "done-1")
        settings = test_settings(kafka_bootstrap, tmp_path, fleet, platform_database_url=platform.url)
        await create_topic(kafka_bootstrap, settings.lifecycle_topic, 2)
        agents = HttpAgentApi(fleet.url_template)
        database_reader = TrinityDatabase(platform.url)
        sent: list[LifecycleEvent] = []
        async with running(settings) as service, producer(kafka_bootstrap) as p:

            async def send(event: LifecycleEvent) -> None:
                sent.append(event)
                value = event.model_dump_json(exclude_none=True).encode()
                await p.send_and_wait(settings.lifecycle_topic, value, key=event.execution_id.encode())

            stop = asyncio.Event()
            bridge = asyncio.create_task(Bridge(database_reader, agents, send, interval_s=0.3).run(stop))
            try:
                await asyncio.sleep(1.0)
                fleet.finish("bridge-bot", "done-1")
                platform.set_status("done-1", "success")
                records = await read_topic(
                    kafka_bootstrap, settings.recoveries_topic, until=lambda rs: bool(recoveries(rs)), timeout_s=30
                )
                assert await wait_for(lambda: platform.row("orphan-1")["status"] == "failed", timeout_s=10)
                error = platform.row("orphan-1")["error"]
                platform.set_status("orphan-1", "success")  # a late success write lands over our failure mark
                records = await read_topic(
                    kafka_bootstrap,
                    settings.recoveries_topic,
                    until=lambda rs: bool(recoveries(rs, "overridden")),
                    timeout_s=30,
                )
                # Watched long enough for a false recovery of the others to show, then read to the end.
                assert await watched_for(service, 2.0)
                records = await read_to_end(kafka_bootstrap, settings.recoveries_topic)
                counted = service.metrics.exposition().decode()
            finally:
                stop.set()
                await bridge
                await agents.aclose()
                database_reader.close()
        assert [(e["action"], e["execution_id"]) for e in recoveries(records)] == [
            ("orphan_recovered", "orphan-1"),
            ("overridden", "orphan-1"),
        ]
        assert error == ORPHAN_ERROR
        assert recoveries(records, "overridden")[0]["reason"].startswith("the platform recorded success at")
        assert 'watchdog_false_positives_total{reason="success_over_failed"} 1.0' in counted
        assert platform.row("healthy-1")["status"] == "running" and platform.row("done-1")["status"] == "success"
        assert ("execution.completed", "done-1") in [(e.type, e.execution_id) for e in sent]
        assert fleet.terminates == {}


async def test_idle_is_announced_only_for_an_execution_whose_log_stream_went_quiet(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet
) -> None:
    """Three Trinity executions, all alive: one writes its log all along, one wrote once then went
    quiet, one never wrote (its agent streams keepalives only). Only the quiet one is idle."""
    fleet.keepalive_s = 0.5
    with platform_tables("sqlite", tmp_path) as platform:
        for x in ("working", "quiet-after", "no-source"):
            platform.execution(x, "bridge-bot")
            fleet.start_execution("bridge-bot", x)
            fleet.log("bridge-bot", x, {"type": "system", "subtype": "init"})  # replayed on connect: not progress
        settings = test_settings(kafka_bootstrap, tmp_path, fleet, platform_database_url=platform.url, idle_after_s=3)
        await create_topic(kafka_bootstrap, settings.lifecycle_topic, 2)
        agents = HttpAgentApi(fleet.url_template)
        streams = StreamOpener(agents, max_streams=8, connect_timeout_s=2)
        activity = ActivityWatch(streams, max_streams=8)
        database_reader = TrinityDatabase(platform.url)
        sent: list[LifecycleEvent] = []
        async with running(settings), producer(kafka_bootstrap) as p:

            async def send(event: LifecycleEvent) -> None:
                sent.append(event)
                value = event.model_dump_json(exclude_none=True).encode()
                await p.send_and_wait(settings.lifecycle_topic, value, key=event.execution_id.encode())

            stop = asyncio.Event()
            bridge = Bridge(database_reader, agents, send, interval_s=0.3, activity=activity)
            task = asyncio.create_task(bridge.run(stop))
            try:
                await asyncio.sleep(1.5)
                fleet.log("bridge-bot", "quiet-after", {"type": "assistant"})
                for _ in range(10):  # 8 s of work, an entry every 0.8 s
                    fleet.log("bridge-bot", "working", {"type": "assistant"})
                    await asyncio.sleep(0.8)
                records = await read_to_end(kafka_bootstrap, settings.recoveries_topic)
            finally:
                stop.set()
                await task
                await activity.close()
                await streams.aclose()
                await agents.aclose()
                database_reader.close()
    assert [(e["action"], e["execution_id"]) for e in recoveries(records)] == [("idle_detected", "quiet-after")]
    active = [e.execution_id for e in sent if e.type == "execution.activity"]
    assert set(active) == {"working", "quiet-after"} and active.count("quiet-after") == 1
    assert len(active) == len({e.event_id for e in sent if e.type == "execution.activity"})


async def test_a_task_that_ends_between_two_bridge_rounds_near_its_limit_draws_nothing(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet
) -> None:
    """Two tasks with Trinity's limit of 3 s, seen by the bridge at 0 s, 2 s and 3.6 s: one ended at
    2.6 s (its end is reported at 3.6 s), one still runs. Only the one seen alive past 3 s is terminated."""
    with platform_tables("sqlite", tmp_path) as platform:
        platform.schedule("tight", "bridge-bot", timeout_s=3)
        for x in ("ends-in-time", "overdue"):
            platform.execution(x, "bridge-bot", age_s=0, schedule_id="tight")
            fleet.start_execution("bridge-bot", x)
        settings = test_settings(
            kafka_bootstrap,
            tmp_path,
            fleet,
            platform_database_url=platform.url,
            auto_terminate=True,
            heartbeat_timeout_s=2.5,
        )
        await create_topic(kafka_bootstrap, settings.lifecycle_topic, 2)
        agents = HttpAgentApi(fleet.url_template)
        database_reader = TrinityDatabase(platform.url)
        async with running(settings), producer(kafka_bootstrap) as p:

            async def send(event: LifecycleEvent) -> None:
                value = event.model_dump_json(exclude_none=True).encode()
                await p.send_and_wait(settings.lifecycle_topic, value, key=event.execution_id.encode())

            bridge = Bridge(database_reader, agents, send, interval_s=1.0)
            started = asyncio.get_running_loop().time()

            async def round_at(offset_s: float) -> None:
                await asyncio.sleep(max(0.0, started + offset_s - asyncio.get_running_loop().time()))
                await bridge.poll_once()

            try:
                await round_at(0.0)
                await round_at(2.0)
                await asyncio.sleep(0.6)
                fleet.finish("bridge-bot", "ends-in-time")
                platform.set_status("ends-in-time", "success")
                await round_at(3.6)
                records = await read_topic(
                    kafka_bootstrap,
                    settings.recoveries_topic,
                    until=lambda rs: bool(recoveries(rs, "auto_terminated")),
                    timeout_s=20,
                )
                await asyncio.sleep(1.0)
                records = await read_to_end(kafka_bootstrap, settings.recoveries_topic)
            finally:
                await agents.aclose()
                database_reader.close()
        statuses = {x: platform.row(x)["status"] for x in ("ends-in-time", "overdue")}
    assert [(e["action"], e["execution_id"]) for e in recoveries(records)] == [
        ("idle_detected", "overdue"),
        ("auto_terminated", "overdue"),
    ]
    assert set(fleet.terminates) == {("bridge-bot", "overdue")}
    assert statuses == {"ends-in-time": "success", "overdue": "failed"}


def test_bridge_without_a_platform_database_exits_2_naming_the_setting() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")} | {"WATCHDOG_KAFKA_BOOTSTRAP": "x:1"}
    run = subprocess.run([sys.executable, "-m", "exec_watchdog", "bridge"], env=env, capture_output=True, text=True)
    assert run.returncode == 2 and "WATCHDOG_PLATFORM_DATABASE_URL" in run.stderr
