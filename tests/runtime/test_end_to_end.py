"""`exec-watchdog run` against a real broker and loopback agents: the recoveries users rely on."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from exec_watchdog.adapters.store import Store
from exec_watchdog.audit.view import render, timeline
from exec_watchdog.demo.local_broker import free_port
from exec_watchdog.demo.standin_fleet import StandinFleet
from exec_watchdog.service.service import Service
from exec_watchdog.settings import Settings
from tests.runtime.harness import (
    beating,
    create_topic,
    decided,
    lifecycle,
    producer,
    read_to_end,
    read_topic,
    recoveries,
    running,
    test_settings,
    wait_for,
    wall,
    watched_for,
)
from tests.services.postgres import fresh_schema

pytestmark = pytest.mark.kafka
AGENT = "research-bot"


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_an_orphan_is_recovered_end_to_end(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet, database: str
) -> None:
    if database == "postgresql":
        with fresh_schema() as url:
            await _orphan_end_to_end(kafka_bootstrap, tmp_path, fleet, url)
    else:
        await _orphan_end_to_end(kafka_bootstrap, tmp_path, fleet, f"sqlite:///{tmp_path / 'w.db'}")


async def _orphan_end_to_end(kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet, url: str) -> None:
    settings = test_settings(kafka_bootstrap, tmp_path, fleet, database_url=url)
    await create_topic(kafka_bootstrap, settings.lifecycle_topic, 3)
    fleet.start_execution(AGENT, "healthy-1")
    async with running(settings), producer(kafka_bootstrap) as p:
        # orph-1 started, but its process is gone: the agent does not know it.
        await p.send_and_wait(settings.lifecycle_topic, lifecycle("started", "orph-1", AGENT, -5), key=b"orph-1")
        await p.send_and_wait(settings.lifecycle_topic, lifecycle("started", "healthy-1", AGENT, -5), key=b"healthy-1")
        for _ in range(20):  # healthy-1 heartbeats, orph-1 stays silent
            await p.send_and_wait(
                settings.lifecycle_topic, lifecycle("heartbeat", "healthy-1", AGENT), key=b"healthy-1"
            )
            await asyncio.sleep(0.2)
        records = await read_topic(
            kafka_bootstrap, settings.recoveries_topic, until=lambda rs: bool(recoveries(rs)), timeout_s=20
        )
    [event] = recoveries(records)
    assert event["action"] == "orphan_recovered" and event["execution_id"] == "orph-1"
    assert event["error"] == "Execution completed on agent but status not reported — recovered by watchdog"
    assert event["state"] == "failed" and records[0].key == b"orph-1"
    assert fleet.terminates == {}


async def test_a_hung_execution_is_terminated_once_and_marked_failed(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet
) -> None:
    # A terminate that worked is confirmed by the next read of the running list, not after the grace.
    settings = test_settings(kafka_bootstrap, tmp_path, fleet, auto_terminate=True, terminate_grace_s=60)
    await create_topic(kafka_bootstrap, settings.lifecycle_topic, 2)
    fleet.start_execution("etl-bot", "hung-1")
    async with running(settings), producer(kafka_bootstrap) as p:
        topic = settings.lifecycle_topic
        await p.send_and_wait(topic, lifecycle("started", "hung-1", "etl-bot", timeout_seconds=2), key=b"hung-1")

        # It keeps heartbeating (the process is alive) but runs past its 2 s timeout.

        async with beating(p, topic, "hung-1", "etl-bot"):
            records = await read_topic(
                kafka_bootstrap,
                settings.recoveries_topic,
                until=lambda rs: bool(recoveries(rs, "auto_terminated")),
                timeout_s=25,
            )
    assert [e["action"] for e in recoveries(records)] == ["idle_detected", "auto_terminated"]
    terminated = recoveries(records, "auto_terminated")[0]
    assert terminated["error"] == "Execution auto-terminated after 0 minutes by watchdog (exceeded timeout of 2s)"
    assert fleet.terminates == {("etl-bot", "hung-1"): 1}
    assert "hung-1" not in fleet.agent("etl-bot").running


async def test_bad_records_go_to_the_dlq_and_the_service_keeps_working(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet
) -> None:
    settings = test_settings(kafka_bootstrap, tmp_path, fleet)
    await create_topic(kafka_bootstrap, settings.lifecycle_topic, 1)
    bad = [
        b"not json at all",
        b'{"schema_version": 1, "type": "execution.exploded"}',
        lifecycle("started", "x 1", AGENT),
        lifecycle("started", "ok-id", "Bad_Agent"),
        b'{"schema_version": 1, "type": "watchdog.tick", "now": "2030-01-01T00:00:00Z"}',
        lifecycle("started", "big", AGENT, attributes={"blob": "x" * 9000}),
    ]
    async with running(settings) as service, producer(kafka_bootstrap) as p:
        for value in bad:
            await p.send_and_wait(settings.lifecycle_topic, value, key=b"k")
        await p.send_and_wait(settings.lifecycle_topic, lifecycle("started", "orph-2", AGENT, -5), key=b"orph-2")
        dead = await read_topic(kafka_bootstrap, settings.dlq_topic, until=lambda rs: len(rs) >= len(bad))
        healed = await read_topic(
            kafka_bootstrap, settings.recoveries_topic, until=lambda rs: bool(recoveries(rs)), timeout_s=20
        )
        assert service.ready()
    assert [r.value for r in dead] == bad
    reasons = [r.headers["error"].decode() for r in dead]
    assert reasons[0].startswith("record:") and reasons[1].startswith("type:")
    assert reasons[2].startswith("execution_id:") and reasons[3].startswith("agent_name:")
    assert "not a lifecycle event type" in reasons[4] and reasons[5].startswith("attributes:")
    assert next(r.headers["source"].decode() for r in dead) == f"{settings.lifecycle_topic}/0/0"
    assert [e["execution_id"] for e in recoveries(healed)] == ["orph-2"]


async def test_health_readiness_and_metrics_are_served(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet
) -> None:
    settings = test_settings(kafka_bootstrap, tmp_path, fleet, http_port=free_port())
    await create_topic(kafka_bootstrap, settings.lifecycle_topic, 2)
    async with running(settings) as service:
        assert await wait_for(service.ready)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.http_port}") as client:
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/readyz")).status_code == 200
            metrics = (await client.get("/metrics")).text
            assert (await client.get("/nope")).status_code == 404
    assert "watchdog_assigned_partitions 2.0" in metrics
    for name in (
        "watchdog_events_consumed_total",
        "watchdog_commands_total",
        "watchdog_recoveries_total",
        "watchdog_consumer_lag",
        "watchdog_dlq_total",
        "watchdog_transitions_total",
    ):
        assert name in metrics


async def test_suspects_on_one_agent_cost_one_coalesced_call(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet
) -> None:
    settings = test_settings(kafka_bootstrap, tmp_path, fleet, probe_retry_s=30)
    await create_topic(kafka_bootstrap, settings.lifecycle_topic, 1)
    silent = [f"quiet-{n}" for n in range(12)]
    for x in silent:
        fleet.start_execution("crowded-bot", x)  # alive on the agent, silent on the bus
    async with running(settings) as service, producer(kafka_bootstrap) as p:
        started = wall()  # one start time: all twelve fall silent at the same tick, however slow the sends
        for x in silent:
            record = lifecycle("started", x, "crowded-bot", occurred_at=started)
            await p.send_and_wait(settings.lifecycle_topic, record, key=x.encode())

        def probed() -> bool:  # every probe executed and its answer recorded
            rows = [r for x in silent for r in service.store.outbox_rows(x) if r.kind == "probe"]
            return len(rows) == len(silent) and all(r.outcome is not None for r in rows)

        assert await wait_for(probed, timeout_s=20)
    assert fleet.running_calls["crowded-bot"] == 1
    assert fleet.terminates == {}


async def test_the_input_topic_is_never_created_by_the_service(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet
) -> None:
    settings = test_settings(kafka_bootstrap, tmp_path, fleet)
    service_task = asyncio.create_task(_run_briefly(settings, seconds=3))
    await service_task
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        topics = await admin.list_topics()
    finally:
        await admin.close()
    assert settings.lifecycle_topic not in topics
    assert settings.control_topic not in topics  # nothing is set up before the input exists


async def _run_briefly(settings: Settings, seconds: float) -> None:
    service = Service(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait_for(task, timeout=10)


def test_run_without_a_broker_exits_2_naming_the_setting() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")}
    run = subprocess.run([sys.executable, "-m", "exec_watchdog", "run"], env=env, capture_output=True, text=True)
    assert run.returncode == 2 and "WATCHDOG_KAFKA_BOOTSTRAP" in run.stderr


async def test_misbehaving_agents_are_unreachable_never_a_reason_to_kill(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet
) -> None:
    settings = test_settings(kafka_bootstrap, tmp_path, fleet, agent_timeout_s=0.5, agent_read_retries=0)
    await create_topic(kafka_bootstrap, settings.lifecycle_topic, 2)
    modes = {"down-bot": "down", "garbage-bot": "garbage", "locked-bot": "unauthorized", "slow-bot": "slow"}
    for agent, mode in modes.items():
        fleet.set_mode(agent, mode, slow_s=2.0)  # type: ignore[arg-type]
    async with running(settings) as service, producer(kafka_bootstrap) as p:
        for agent in modes:
            x = f"silent-on-{agent}"
            await p.send_and_wait(settings.lifecycle_topic, lifecycle("started", x, agent, -5), key=x.encode())
        records = await read_topic(
            kafka_bootstrap, settings.recoveries_topic, until=lambda rs: len(recoveries(rs)) >= 4, timeout_s=30
        )
        assert await watched_for(service, 3.0)  # several more probe rounds (PROBE_RETRY_S=0.5, at most 2)
        records = await read_to_end(kafka_bootstrap, settings.recoveries_topic)
        exposed = service.metrics.exposition().decode()
    assert sorted(e["agent_name"] for e in decided(records)) == sorted(modes)  # one per agent
    assert {e["action"] for e in recoveries(records)} == {"agent_unreachable"}
    assert fleet.terminates == {}
    for agent in modes:
        assert f'watchdog_agent_unreachable{{agent="{agent}"}} 1.0' in exposed
    assert 'watchdog_executions{state="suspected"} 4.0' in exposed
    assert "watchdog_detection_seconds_count 4.0" in exposed  # each silent one, once
    assert 'watchdog_detection_seconds_bucket{le="1.0"} 0.0' in exposed  # never before HEARTBEAT_TIMEOUT_S
    assert 'watchdog_agent_failures_total{agent="down-bot"}' in exposed
    store = Store(settings.database_url, settings.group_id)
    found = timeline(store, "silent-on-locked-bot")
    store.close()
    assert found is not None and "the agent did not answer: HTTP 401" in render(found)


async def test_the_last_record_of_a_quiet_topic_is_applied(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet
) -> None:
    settings = test_settings(kafka_bootstrap, tmp_path, fleet)
    await create_topic(kafka_bootstrap, settings.lifecycle_topic, 1)
    async with running(settings), producer(kafka_bootstrap) as p:
        await asyncio.sleep(1)
        for n in range(300):  # one large final batch, then silence: the orphan's start is at its very end
            fleet.start_execution(AGENT, f"busy-{n}")
            await p.send(settings.lifecycle_topic, lifecycle("started", f"busy-{n}", AGENT), key=b"alone-1")
        await p.send(settings.lifecycle_topic, lifecycle("started", "alone-1", AGENT, -5), key=b"alone-1")
        await p.flush()
        records = await read_topic(
            kafka_bootstrap, settings.recoveries_topic, until=lambda rs: bool(recoveries(rs)), timeout_s=20
        )
    assert [e["execution_id"] for e in recoveries(records)] == ["alone-1"]
