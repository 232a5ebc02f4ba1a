"""One agent that never answers delays no effect for any other agent."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from exec_watchdog.demo.standin_fleet import StandinFleet
from tests.runtime.harness import create_topic, lifecycle, producer, read_topic, recoveries, running, test_settings

pytestmark = pytest.mark.kafka


async def test_an_orphan_is_recovered_on_time_while_another_agent_hangs(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet
) -> None:
    fleet.set_mode("hung-bot", "slow", slow_s=3600)  # accepts every call, answers none
    settings = test_settings(kafka_bootstrap, tmp_path, fleet, agent_timeout_s=8, agent_read_retries=2)
    await create_topic(kafka_bootstrap, settings.lifecycle_topic, 1)
    async with running(settings), producer(kafka_bootstrap) as p:
        sent = time.monotonic()
        for execution_id, agent in (("stuck-1", "hung-bot"), ("gone-1", "ok-bot")):
            await p.send_and_wait(settings.lifecycle_topic, lifecycle("started", execution_id, agent, -5), key=b"k")
        records = await read_topic(
            kafka_bootstrap,
            settings.recoveries_topic,
            timeout_s=40,
            until=lambda rs: any(e["execution_id"] == "gone-1" for e in recoveries(rs, "orphan_recovered")),
        )
        took = time.monotonic() - sent
    assert [e["execution_id"] for e in recoveries(records, "orphan_recovered")] == ["gone-1"]
    # Silence (1.5 s), a probe, a failure mark: seconds. Behind the hung agent's calls (3 × 8 s) it took 24+.
    assert took < 12, took
    assert not [e for e in recoveries(records) if e["execution_id"] == "stuck-1" and e["action"] != "agent_unreachable"]
