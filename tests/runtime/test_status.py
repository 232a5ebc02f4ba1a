"""`exec-watchdog status` and `GET /status`: what is suspected right now, and why, in one command."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from exec_watchdog.demo.local_broker import free_port
from exec_watchdog.demo.standin_fleet import StandinFleet
from exec_watchdog.settings import Settings
from tests.runtime.harness import (
    beating,
    create_topic,
    lifecycle,
    producer,
    read_topic,
    recoveries,
    running,
    test_settings,
)

pytestmark = pytest.mark.kafka


def status(settings: Settings, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")} | {
        "WATCHDOG_DATABASE_URL": settings.database_url,
        "WATCHDOG_GROUP_ID": settings.group_id,
    }
    return subprocess.run(
        [sys.executable, "-m", "exec_watchdog", "status", *flags], env=env, capture_output=True, text=True, check=False
    )


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return bytes(reply.read())


async def test_status_names_the_suspects_why_and_the_agents_that_do_not_answer(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet
) -> None:
    fleet.set_mode("down-bot", "down")
    fleet.start_execution("ok-bot", "healthy-1")
    settings = test_settings(kafka_bootstrap, tmp_path, fleet, http_port=free_port())
    await create_topic(kafka_bootstrap, settings.lifecycle_topic, 2)
    async with running(settings) as service, producer(kafka_bootstrap) as p:
        topic = settings.lifecycle_topic
        await p.send_and_wait(topic, lifecycle("started", "silent-1", "down-bot", -5), key=b"silent-1")
        await p.send_and_wait(topic, lifecycle("started", "healthy-1", "ok-bot"), key=b"healthy-1")
        async with beating(p, topic, "healthy-1", "ok-bot"):
            await read_topic(
                kafka_bootstrap,
                settings.recoveries_topic,
                until=lambda rs: bool(recoveries(rs, "agent_unreachable")),
                timeout_s=30,
            )

            # The command runs beside the service, as an operator's would (never blocking its loop).
            for _ in range(20):
                document = json.loads((await asyncio.to_thread(status, settings, "--json")).stdout)
                if "down-bot" in json.dumps(document):
                    break
                await asyncio.sleep(0.5)
            text = (await asyncio.to_thread(status, settings)).stdout
            live = json.loads(await asyncio.to_thread(get, f"http://127.0.0.1:{service.http_port}/status"))
    [instance] = document["instances"]  # type: ignore[index]
    assert instance["stale"] is False and instance["partitions"] == [0, 1]
    assert instance["counts"]["suspected"] == 1 and instance["counts"]["running"] == 1
    [suspect] = instance["executions"]
    assert (suspect["execution_id"], suspect["agent_name"], suspect["state"]) == ("silent-1", "down-bot", "suspected")
    assert "HEARTBEAT_TIMEOUT_S" in suspect["why"] and suspect["since"] and suspect["held"] is False
    [agent] = instance["unreachable_agents"]
    assert agent["agent_name"] == "down-bot" and agent["why"] == "HTTP 503" and agent["since"]
    assert live["instance_id"] == instance["instance_id"] and live["counts"]["suspected"] == 1
    assert "suspected        silent-1 on down-bot, since " in text
    assert "down-bot since " in text and ": HTTP 503" in text
    after = status(settings)
    assert after.returncode == 0 and "no instance is running" in after.stdout  # a clean stop removes its row
