"""The agent's last error and the tail of its log are read before a terminate, while the agent still
holds them: the failure mark carries the error and `audit` shows both (the agent drops an
execution's log buffer once it ends)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from exec_watchdog.adapters.store import Store
from exec_watchdog.audit.view import render, timeline
from exec_watchdog.demo.standin_fleet import StandinFleet
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
from tests.services.platform_tables import platform_tables

pytestmark = pytest.mark.kafka


async def test_a_hung_executions_last_error_is_kept_before_the_terminate_and_written_with_the_failure(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet
) -> None:
    agent, x = f"stuck-bot-{int(time.time() * 1000) % 10**8}", "hung-1"
    fleet.start_execution(agent, x)
    fleet.agent(agent).errors[x] = ("tool_error", "upstream API answered 429 for ten minutes")
    for n in range(40):
        fleet.log(agent, x, {"type": "user", "n": n, "content": "retrying the upstream call"})
    with platform_tables("sqlite", tmp_path) as platform:
        platform.execution(x, agent)
        settings = test_settings(
            kafka_bootstrap, tmp_path, fleet, auto_terminate=True, platform_database_url=platform.url
        )
        await create_topic(kafka_bootstrap, settings.lifecycle_topic, 1)
        async with running(settings), producer(kafka_bootstrap) as p:
            topic = settings.lifecycle_topic
            await p.send_and_wait(topic, lifecycle("started", x, agent, timeout_seconds=2), key=x.encode())
            async with beating(p, topic, x, agent):
                records = await read_topic(
                    kafka_bootstrap,
                    settings.recoveries_topic,
                    until=lambda rs: bool(recoveries(rs, "auto_terminated")),
                    timeout_s=25,
                )
        row = platform.row(x)
        store = Store(settings.database_url, settings.group_id)
        found = timeline(store, x)
        store.close()
    assert [e["action"] for e in recoveries(records)] == ["idle_detected", "auto_terminated"]
    assert x not in fleet.agent(agent).running  # terminated: the agent has dropped the buffer by now
    assert row["status"] == "failed"
    assert str(row["error"]).endswith(". Cleanup: upstream API answered 429 for ten minutes")
    assert found is not None
    shown = render(found)
    assert "the agent's last error before it was sent: tool_error: upstream API answered 429" in shown
    assert "the last 10 entries of its log before it was sent:" in shown
    tail = shown.split("entries of its log before it was sent:")[1].splitlines()[1:11]
    assert [line.split('"n": ')[1].split(",")[0] for line in tail] == [str(n) for n in range(30, 40)]
