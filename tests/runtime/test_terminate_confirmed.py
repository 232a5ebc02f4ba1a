"""A terminate the agent acknowledged counts only once the execution has left its running list."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

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
    wait_for,
)
from tests.services.require import REDIS_URL, redis_url

pytestmark = pytest.mark.kafka


async def test_an_agent_that_acknowledges_a_terminate_but_keeps_running_is_terminated_again_before_the_slot_goes(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet
) -> None:
    agent = f"liar-bot-{int(time.time() * 1000) % 10**8}"
    x = "stubborn-1"
    slots = redis.Redis.from_url(redis_url(), decode_responses=True)
    slots.zadd(f"agent:slots:{agent}", {x: time.time()})
    slots.hset(f"agent:slot:{agent}:{x}", mapping={"execution_id": x, "timeout_seconds": "2"})
    fleet.start_execution(agent, x)
    fleet.agent(agent).survives_terminates = 1  # the first "terminated" is a lie
    settings = test_settings(
        kafka_bootstrap, tmp_path, fleet, auto_terminate=True, terminate_grace_s=1, platform_redis_url=REDIS_URL
    )
    await create_topic(kafka_bootstrap, settings.lifecycle_topic, 1)
    try:
        async with running(settings), producer(kafka_bootstrap) as p:
            topic = settings.lifecycle_topic
            await p.send_and_wait(topic, lifecycle("started", x, agent, timeout_seconds=2), key=x.encode())
            async with beating(p, topic, x, agent):
                first = await read_topic(
                    kafka_bootstrap, settings.recoveries_topic, until=lambda rs: bool(recoveries(rs, "incident"))
                )
                slot_held_when_told = slots.exists(f"agent:slot:{agent}:{x}") == 1
                records = await read_topic(
                    kafka_bootstrap,
                    settings.recoveries_topic,
                    until=lambda rs: bool(recoveries(rs, "auto_terminated")),
                    timeout_s=25,
                )
            released = await wait_for(lambda: not slots.exists(f"agent:slot:{agent}:{x}"), timeout_s=10)
        [told] = recoveries(first, "incident")
        assert "still in its running list" in told["reason"] and "slot stays held" in told["reason"]
        assert slot_held_when_told
        assert [e["action"] for e in recoveries(records)] == ["idle_detected", "incident", "auto_terminated"]
        assert fleet.terminates[(agent, x)] == 2
        assert x not in fleet.agent(agent).running
        assert released  # the slot goes once the execution is marked
    finally:
        slots.delete(f"agent:slots:{agent}", f"agent:slot:{agent}:{x}")
        slots.close()
