"""Apache Kafka as production runs it: three brokers, replication 3, `min.insync.replicas=2`, and faults.

The tests share one cluster (`kafka_cluster`: every node runs again before each test). Short by
default (CI); `RELIABILITY_LONG=1` runs the long version (a larger storm, a broker down for a full
minute). Each test prints its figures; docs/RELIABILITY.md keeps the last run's.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from exec_watchdog.adapters.store import Store
from exec_watchdog.demo.standin_fleet import StandinFleet
from exec_watchdog.settings import Settings
from tests.reliability.scenario import LONG, Fleet
from tests.runtime.harness import (
    MARKING,
    Record,
    cli,
    create_topic,
    lifecycle,
    marked,
    producer,
    read_to_end,
    read_topic,
    recoveries,
    running,
    test_settings,
    wait_for,
)
from tests.services.kafka_cluster import KafkaCluster

pytestmark = [pytest.mark.kafka, pytest.mark.cluster]
FAULTS: dict[str, Any] = {
    "heartbeat_timeout_s": 3,
    "min_age_s": 1,
    "kafka_session_timeout_s": 6,
    "snapshot_interval_s": 1,
    "checkpoint_interval_s": 5,
}


def decisions_published_once(records: list[Record]) -> bool:
    """A redelivered recovery repeats its event id; two ids for one execution's failure mark is a doubled effect."""
    ids: dict[tuple[str, str], set[str]] = {}
    for e in recoveries(records):
        if e["action"] in MARKING:
            ids.setdefault((e["execution_id"], e["action"]), set()).add(e["event_id"])
    return all(len(found) == 1 for found in ids.values())


def probed(settings: Settings, executions: set[str]) -> set[str]:
    """Those of these executions the watchdog suspected and asked their agent about."""
    store = Store(settings.database_url, settings.group_id)
    try:
        return {x for x in executions if any(r.kind == "probe" for r in store.outbox_rows(x))}
    finally:
        store.close()


def verify_replay(settings: Settings) -> None:
    run = cli(settings, "replay", "--verify")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "every decision identical" in run.stdout


def all_alive(story: Fleet) -> None:
    """This fleet's executions all live on and never end: anything marked is a false kill."""
    story.truth.healthy |= story.truth.orphans | story.truth.hung
    for x in story.truth.orphans:
        story.fleet.start_execution(story.agents[x], x)
    story.truth.orphans.clear()
    story.truth.hung.clear()
    story.ends.clear()


async def orphan(p: AIOKafkaProducer, topic: str, execution_id: str) -> None:
    """An execution its agent never heard of: the platform reports it started, then nothing."""
    await p.send_and_wait(topic, lifecycle("started", execution_id, "bot-1", -5), key=execution_id.encode())


async def test_kill_9_of_the_leading_broker_during_a_recovery_storm_loses_and_doubles_nothing(
    kafka_cluster: KafkaCluster, tmp_path: Path, fleet: StandinFleet
) -> None:
    bootstrap = kafka_cluster.bootstrap
    # The brake is off for the reason given in tests/reliability/test_faults.py: here every recovery must land.
    settings = test_settings(bootstrap, tmp_path, fleet, auto_terminate=True, brake_enabled=False, **FAULTS)
    topic = settings.lifecycle_topic
    await create_topic(bootstrap, topic, 3, replication=3)
    story = Fleet(fleet, 1200 if LONG else 300, seed=7)
    story.cast()
    expected = story.truth.expected() | {("after-kill", "orphan_recovered")}
    stop = asyncio.Event()
    async with running(settings), producer(bootstrap) as p:
        play = asyncio.create_task(story.play(p, topic, 90 if LONG else 45, stop))
        first = await read_topic(
            bootstrap, settings.recoveries_topic, timeout_s=120, until=lambda rs: len(marked(rs)) >= 5
        )
        assert len(marked(first)) >= 5, "the storm did not start"
        leaders = [
            *(await kafka_cluster.leaders(topic)).values(),
            *(await kafka_cluster.leaders(settings.control_topic)).values(),
        ]
        victim = Counter(leaders).most_common(1)[0][0]  # the node leading most input and control partitions
        killed = time.monotonic()
        kafka_cluster.kill(victim)
        moved = False
        while not moved and time.monotonic() - killed < 60:
            await asyncio.sleep(0.5)
            now_leading = [
                *(await kafka_cluster.leaders(topic)).values(),
                *(await kafka_cluster.leaders(settings.control_topic)).values(),
            ]
            moved = victim not in now_leading and -1 not in now_leading
        election_s = time.monotonic() - killed
        assert moved, "no new leaders were elected within 60 s"
        await orphan(p, topic, "after-kill")  # detection resumes on the new leaders
        await read_topic(bootstrap, settings.recoveries_topic, timeout_s=120, until=lambda rs: marked(rs) >= expected)
        stop.set()
        await play
    records = await read_to_end(bootstrap, settings.recoveries_topic)
    got = marked(records)
    print(
        f"\nkill -9 of broker {victim} (leading {leaders.count(victim)} of {len(leaders)} input/control partitions) "
        f"during a storm of {len(story.truth.expected())} recoveries over {story.size} executions: "
        f"leaders moved in {election_s:.1f} s, {len(got)} recovered, "
        f"{len(got - expected)} false, {sum(fleet.terminates.values())} terminates for {len(story.truth.hung)} hung"
    )
    assert got == expected  # nothing lost, no healthy execution touched
    assert decisions_published_once(records)
    assert all(count == 1 for count in fleet.terminates.values())  # no terminate twice
    assert {x for _, x in fleet.terminates} == story.truth.hung
    verify_replay(settings)


async def test_one_broker_down_changes_nothing_and_two_down_hold_time_still(
    kafka_cluster: KafkaCluster, tmp_path: Path, fleet: StandinFleet
) -> None:
    one_down_s, two_down_s = (60, 30) if LONG else (20, 12)
    bootstrap = kafka_cluster.bootstrap
    settings = test_settings(bootstrap, tmp_path, fleet, **FAULTS)
    topic = settings.lifecycle_topic
    await create_topic(bootstrap, topic, 3, replication=3)
    await create_topic(bootstrap, f"{topic}-writes", 1, replication=3)  # to show when acks=all writes are refused
    story = Fleet(fleet, 90, seed=3)
    story.cast()
    all_alive(story)
    stop = asyncio.Event()
    async with running(settings), producer(bootstrap) as p:
        play = asyncio.create_task(story.play(p, topic, 600, stop))
        await asyncio.sleep(5)
        await asyncio.to_thread(kafka_cluster.stop, 3)
        one_down = time.monotonic()
        await orphan(p, topic, "one-down")  # acks=all: two of three replicas are enough
        found = await read_topic(
            bootstrap,
            settings.recoveries_topic,
            timeout_s=30,
            until=lambda rs: ("one-down", "orphan_recovered") in marked(rs),
        )
        detected_one_down_s = time.monotonic() - one_down
        assert ("one-down", "orphan_recovered") in marked(found)
        await asyncio.sleep(max(0.0, one_down_s - (time.monotonic() - one_down)))

        await asyncio.to_thread(kafka_cluster.stop, 2)
        refused = await write_refused(bootstrap, f"{topic}-writes")
        await asyncio.sleep(two_down_s)
        for node in (2, 3):
            kafka_cluster.start_node(node)
        await kafka_cluster.wait_ready()
        back = time.monotonic()
        await orphan(p, topic, "after-two")
        healed = await read_topic(
            bootstrap,
            settings.recoveries_topic,
            timeout_s=60,
            until=lambda rs: ("after-two", "orphan_recovered") in marked(rs),
        )
        detected_after_s = time.monotonic() - back
        stop.set()
        await play
    records = await read_to_end(bootstrap, settings.recoveries_topic)
    false = {(x, a) for x, a in marked(records) if x in story.truth.healthy}
    print(
        f"\nbrokers down: {len(story.truth.healthy)} live executions; one broker down {one_down_s} s: orphan "
        f"recovered in {detected_one_down_s:.1f} s; two down {two_down_s} s: writes refused {refused}; back: orphan "
        f"recovered in {detected_after_s:.1f} s; {len(false)} false recoveries; "
        f"{len(probed(settings, story.truth.healthy))} live executions suspected and probed; "
        f"recovery events {dict(Counter(e['action'] for e in recoveries(records)))}"
    )
    assert refused
    assert ("after-two", "orphan_recovered") in marked(healed)
    assert false == set()
    assert marked(records) == {("one-down", "orphan_recovered"), ("after-two", "orphan_recovered")}
    verify_replay(settings)


async def write_refused(bootstrap: str, topic: str) -> bool:
    """With two of three brokers down an acks=all write is not acknowledged."""
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False, request_timeout_ms=5000)
    await p.start()
    try:
        await asyncio.wait_for(p.send_and_wait(topic, b"probe"), timeout=15)
    except (KafkaError, TimeoutError):
        return True
    finally:
        await asyncio.wait_for(p.stop(), timeout=15)
    return False


async def test_three_watchdogs_through_a_rolling_restart_of_the_brokers_lose_and_double_nothing(
    kafka_cluster: KafkaCluster, tmp_path: Path, fleet: StandinFleet
) -> None:
    bootstrap = kafka_cluster.bootstrap
    settings = test_settings(bootstrap, tmp_path, fleet, **FAULTS)
    topic = settings.lifecycle_topic
    await create_topic(bootstrap, topic, 6, replication=3)
    story = Fleet(fleet, 60, seed=5)
    story.cast()
    all_alive(story)
    waves = [[f"roll{w}-{n}" for n in range(8)] for w in range(4)]
    everyone = {x for wave in waves for x in wave}
    stop = asyncio.Event()
    started = time.monotonic()
    async with producer(bootstrap) as p, running(settings), running(settings), running(settings):
        play = asyncio.create_task(story.play(p, topic, 600, stop))
        for node, wave in zip((1, 2, 3), waves, strict=False):
            for x in wave:
                await orphan(p, topic, x)
            await kafka_cluster.restart(node)
        for x in waves[3]:
            await orphan(p, topic, x)
        await read_topic(
            bootstrap,
            settings.recoveries_topic,
            timeout_s=90,
            until=lambda rs: {x for x, _ in marked(rs)} >= everyone,
        )
        stop.set()
        await play
    records = await read_to_end(bootstrap, settings.recoveries_topic)
    store = Store(settings.database_url, settings.group_id)
    marks = {x: [r for r in store.outbox_rows(x) if r.kind == "mark_failed" and r.status == "done"] for x in everyone}
    store.close()
    print(
        f"\nrolling restart: 3 watchdogs, 3 brokers restarted one by one in {time.monotonic() - started:.0f} s, "
        f"{len(everyone)} orphans in 4 waves, {len(marked(records))} recovered, "
        f"{sum(len(m) for m in marks.values())} failure marks; of {len(story.truth.healthy)} live executions "
        f"{len(probed(settings, story.truth.healthy))} suspected and probed, none marked; "
        f"recovery events {dict(Counter(e['action'] for e in recoveries(records)))}"
    )
    assert marked(records) == {(x, "orphan_recovered") for x in everyone}
    assert decisions_published_once(records)
    assert all(len(m) == 1 for m in marks.values())
    verify_replay(settings)


async def test_owned_topics_are_replicated_three_times_and_a_mismatched_control_topic_is_refused(
    kafka_cluster: KafkaCluster, tmp_path: Path, fleet: StandinFleet
) -> None:
    bootstrap = kafka_cluster.bootstrap
    settings = test_settings(bootstrap, tmp_path, fleet)
    await create_topic(bootstrap, settings.lifecycle_topic, 3, replication=3)
    async with running(settings) as service:
        assert await wait_for(lambda: bool(service.owned()))
    owned = [settings.control_topic, settings.recoveries_topic, settings.dlq_topic, settings.audit_topic]
    for topic in owned:
        assert await kafka_cluster.replication(topic) == (3, 3), topic
    assert await min_insync_replicas(bootstrap, owned) == dict.fromkeys(owned, "2")

    mismatched = settings.model_copy(update={"control_topic": f"{settings.control_topic}-other"})
    await create_topic(bootstrap, mismatched.control_topic, 2, replication=3)
    run = cli(mismatched, "run")
    assert run.returncode == 2, run.stderr[-2000:]
    assert mismatched.control_topic in run.stderr and "must match" in run.stderr
    assert "WATCHDOG_CONTROL_TOPIC" in run.stderr  # the fix is named


async def min_insync_replicas(bootstrap: str, topics: list[str]) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in topics])
    finally:
        await admin.close()
    found: dict[str, str] = {}
    for response in described:
        for _code, _message, _type, name, entries in response.resources:
            for key, value, *_ in entries:
                if key == "min.insync.replicas":
                    found[name] = value
    return found
