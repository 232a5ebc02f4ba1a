"""Time advances when a deadline falls due, not only on the tick cadence: with ticks every 5 s, an
execution that falls silent is suspected when its 6 s heartbeat timeout is up, not at the tick after.

The suspicion is counted, not watched for: the stand-in agent answers the probe at once, so the state
is back to `running` within milliseconds, often before a poll could see `suspected`."""

from __future__ import annotations

import time
from pathlib import Path

from exec_watchdog.demo.standin_fleet import StandinFleet
from schemas.fields import State
from statemachine import Engine
from tests.runtime.harness import create_topic, lifecycle, producer, running, test_settings, wait_for

AGENT = "research-bot"


async def test_a_silent_execution_is_suspected_at_its_deadline_between_two_ticks(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet
) -> None:
    settings = test_settings(kafka_bootstrap, tmp_path, fleet, tick_interval_s=5, heartbeat_timeout_s=6)
    await create_topic(kafka_bootstrap, settings.lifecycle_topic, 1)
    fleet.start_execution(AGENT, "quiet-1")
    async with running(settings) as service, producer(kafka_bootstrap) as p:
        topic = settings.lifecycle_topic

        def engine() -> Engine | None:  # looked up each time: a rebalance may restore the partition anew
            state = service.consumer.owned.get(0) if service.consumer else None
            return None if state is None else state.engine

        def suspicions() -> float:
            labels = {"from_state": State.RUNNING.value, "to_state": State.SUSPECTED.value}
            return service.metrics.registry.get_sample_value("watchdog_transitions_total", labels) or 0.0

        assert await wait_for(lambda: (found := engine()) is not None and found.clock is not None, timeout_s=15)
        # just after a cadence tick: the next ones come 5 s and 10 s later; the deadline is 6 s away
        await p.send_and_wait(topic, lifecycle("started", "quiet-1", AGENT, -1), key=b"quiet-1")
        await p.send_and_wait(topic, lifecycle("heartbeat", "quiet-1", AGENT), key=b"quiet-1")
        last_beat = time.monotonic()

        assert await wait_for(lambda: suspicions() > 0, timeout_s=15)
        waited = time.monotonic() - last_beat
    # the heartbeat timeout and the trip through the control log, not the tick 10 s later
    assert waited < settings.heartbeat_timeout_s + 1.5
