"""Fault injection against the real broker and stand-in agents: nothing lost, no effect twice, no false kill.

Short by default (CI); `RELIABILITY_LONG=1` runs the long version (2,000 executions, 10 crashes,
a 20 s broker pause). Each test prints its figures; docs/RELIABILITY.md keeps the last run's.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from pathlib import Path

import pytest

from app.local_broker import TansuBroker
from app.standin_fleet import StandinFleet
from tests.reliability.scenario import LONG, Fleet
from tests.runtime.harness import (
    create_topic,
    lifecycle,
    producer,
    read_topic,
    recoveries,
    running,
    spawn,
    test_settings,
)

pytestmark = [pytest.mark.kafka, pytest.mark.reliability]
MARKING = ("orphan_recovered", "auto_terminated")


def marked(records: list) -> set[tuple[str, str]]:  # type: ignore[type-arg]
    return {(e["execution_id"], e["action"]) for e in recoveries(records) if e["action"] in MARKING}


async def test_sigkill_at_random_points_loses_nothing_and_repeats_no_effect(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet
) -> None:
    size, crashes, seconds = (2000, 10, 120) if LONG else (300, 3, 30)
    settings = test_settings(
        kafka_bootstrap,
        tmp_path,
        fleet,
        auto_terminate=True,
        heartbeat_timeout_s=3,
        min_age_s=1,
        kafka_session_timeout_s=6,
        snapshot_interval_s=1,
    )
    await create_topic(kafka_bootstrap, settings.lifecycle_topic, 6)
    story = Fleet(fleet, size)
    story.cast()
    service = spawn(settings, tmp_path / "run-0.log")
    stop = asyncio.Event()
    rng = random.Random(5)
    kill_at = sorted(rng.uniform(3, seconds - 3) for _ in range(crashes))
    started = time.monotonic()
    try:
        async with producer(kafka_bootstrap) as p:
            play = asyncio.create_task(story.play(p, settings.lifecycle_topic, seconds, stop))
            for n, at in enumerate(kill_at, start=1):
                await asyncio.sleep(max(0, at - (time.monotonic() - started)))
                service.send_signal(signal.SIGKILL)
                service.wait(timeout=10)
                service = spawn(settings, tmp_path / f"run-{n}.log")
            await play
            records = await read_topic(
                kafka_bootstrap,
                settings.recoveries_topic,
                timeout_s=120,
                until=lambda rs: marked(rs) >= story.truth.expected(),
            )
    finally:
        stop.set()
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=20)
    got = marked(records)
    print(
        f"\nsigkill: {size} executions, {crashes} crashes, {len(recoveries(records))} recovery records, "
        f"{len(got)} executions recovered, {sum(fleet.terminates.values())} terminates"
    )
    assert got == story.truth.expected()  # nothing lost, no healthy execution touched
    assert all(count == 1 for count in fleet.terminates.values())  # no terminate twice
    assert {x for _, x in fleet.terminates} == story.truth.hung
    per_decision: dict[tuple[str, str], set[str]] = {}
    for e in recoveries(records):
        per_decision.setdefault((e["execution_id"], e["action"]), set()).add(e["event_id"])
    assert all(len(ids) == 1 for ids in per_decision.values())  # a redelivery repeats the same event id


async def test_a_paused_broker_causes_no_false_recovery_and_detection_resumes(
    tmp_path: Path, fleet: StandinFleet
) -> None:
    pause = 20 if LONG else 8
    broker = TansuBroker()
    bootstrap = broker.start()
    try:
        settings = test_settings(bootstrap, tmp_path, fleet, heartbeat_timeout_s=3, kafka_session_timeout_s=6)
        await create_topic(bootstrap, settings.lifecycle_topic, 3)
        story = Fleet(fleet, 80, seed=3)
        story.cast()
        story.truth.healthy |= story.truth.orphans | story.truth.hung  # this fleet: all alive, none ends
        for x in story.truth.orphans:
            fleet.start_execution(story.agents[x], x)
        story.truth.orphans.clear()
        story.truth.hung.clear()
        story.ends.clear()
        stop = asyncio.Event()
        async with running(settings), producer(bootstrap) as p:
            play = asyncio.create_task(story.play(p, settings.lifecycle_topic, 60, stop))
            await asyncio.sleep(5)
            assert broker.process is not None
            os.kill(broker.process.pid, signal.SIGSTOP)
            await asyncio.sleep(pause)
            os.kill(broker.process.pid, signal.SIGCONT)
            await asyncio.sleep(8)
            await p.send_and_wait(settings.lifecycle_topic, lifecycle("started", "after-1", "bot-1", -5), key=b"a")
            records = await read_topic(
                bootstrap,
                settings.recoveries_topic,
                timeout_s=40,
                until=lambda rs: ("after-1", "orphan_recovered") in marked(rs),
            )
            stop.set()
            await play
    finally:
        broker.stop()
    false = {(x, a) for x, a in marked(records) if x in story.truth.healthy}
    print(
        f"\nbroker pause: {len(story.truth.healthy)} live executions, broker stopped {pause} s, "
        f"{len(false)} false recoveries, detection after resume: {('after-1', 'orphan_recovered') in marked(records)}"
    )
    assert false == set()
    assert ("after-1", "orphan_recovered") in marked(records)
