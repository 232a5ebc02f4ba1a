"""Fault injection against the real broker and stand-in agents: nothing lost, no effect twice, no false kill.

Short by default (CI); `RELIABILITY_LONG=1` runs the long version (2,000 executions, 10 crashes,
a 20 s broker pause). Each test prints its figures; docs/RELIABILITY.md keeps the last run's.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
from pathlib import Path

import pytest

from exec_watchdog.demo.standin_fleet import StandinFleet
from tests.reliability.scenario import LONG, Fleet
from tests.runtime.harness import (
    create_topic,
    lifecycle,
    marked,
    producer,
    read_to_end,
    read_topic,
    recoveries,
    running,
    spawn,
    test_settings,
    wait_for,
)
from tests.services.brokers import local_kafka

pytestmark = [pytest.mark.kafka, pytest.mark.reliability]


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
        # The healthy executions end within seconds; the orphans and hung ones outlive them and soon are
        # most of what still runs, which the mass-failure brake rightly holds as a spike (its own tests
        # cover that). This test is about crashes: every recovery must land exactly once.
        brake_enabled=False,
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
    with local_kafka(1) as broker:
        bootstrap = broker.bootstrap
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
            broker.pause(1)
            await asyncio.sleep(pause)
            broker.resume(1)
            await asyncio.sleep(8)
            await p.send_and_wait(settings.lifecycle_topic, lifecycle("started", "after-1", "bot-1", -5), key=b"a")
            records = await read_topic(
                bootstrap,
                settings.recoveries_topic,
                timeout_s=40,
                until=lambda rs: ("after-1", "orphan_recovered") in marked(rs),
            )
            records = await read_to_end(bootstrap, settings.recoveries_topic)  # every partition, not just after-1's
            stop.set()
            await play
    false = {(x, a) for x, a in marked(records) if x in story.truth.healthy}
    print(
        f"\nbroker pause: {len(story.truth.healthy)} live executions, broker stopped {pause} s, "
        f"{len(false)} false recoveries, detection after resume: {('after-1', 'orphan_recovered') in marked(records)}"
    )
    assert false == set()
    assert ("after-1", "orphan_recovered") in marked(records)


async def test_while_the_platform_database_is_away_marks_are_retried_and_made_once(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet
) -> None:
    from exec_watchdog.adapters.store import Store
    from tests.services.platform_tables import platform_tables

    with platform_tables("sqlite", tmp_path) as platform:
        for n in range(5):
            platform.execution(f"gone-{n}", "bot-1")
        platform._run("ALTER TABLE schedule_executions RENAME TO schedule_executions_away")  # unavailable
        settings = test_settings(
            kafka_bootstrap,
            tmp_path,
            fleet,
            platform_database_url=platform.url,
            command_retry_s=1,
            command_retry_max_s=2,
        )
        await create_topic(kafka_bootstrap, settings.lifecycle_topic, 2)
        async with running(settings) as service, producer(kafka_bootstrap) as p:
            for n in range(5):
                await p.send_and_wait(
                    settings.lifecycle_topic, lifecycle("started", f"gone-{n}", "bot-1", -5), key=f"gone-{n}".encode()
                )

            def failed_twice(n: int) -> bool:
                rows = service.store.outbox_rows(f"gone-{n}")
                return [r.outcome for r in rows if r.kind == "mark_failed"].count("failed") >= 2

            assert await wait_for(lambda: all(failed_twice(n) for n in range(5)), timeout_s=30)
            platform._run("ALTER TABLE schedule_executions_away RENAME TO schedule_executions")  # back again
            records = await read_topic(
                kafka_bootstrap, settings.recoveries_topic, timeout_s=30, until=lambda rs: len(marked(rs)) == 5
            )
        store = Store(settings.database_url, settings.group_id)
        attempts = {
            f"gone-{n}": [r for r in store.outbox_rows(f"gone-{n}") if r.kind == "mark_failed"] for n in range(5)
        }
        store.close()
        rows = [platform.row(f"gone-{n}") for n in range(5)]
    print(f"\nplatform database away: {sum(len(a) for a in attempts.values())} mark_failed attempts for 5 executions")
    assert marked(records) == {(f"gone-{n}", "orphan_recovered") for n in range(5)}
    assert all(r["status"] == "failed" for r in rows)
    for tries in attempts.values():
        assert len({t.id.rsplit("#", 1)[0] for t in tries}) == 1  # one command, retried under its own id
        assert [t.outcome for t in tries].count("ok") == 1 and len(tries) >= 2


async def test_fuzzed_input_lands_in_the_dlq_and_the_service_lives_on(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet
) -> None:
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hypothesis_settings
    from hypothesis import strategies as st

    from schemas import InvalidInput, parse_lifecycle

    valid = json.loads(lifecycle("started", "fz-1", "bot-1"))
    mutated = st.builds(
        lambda k, v: json.dumps({**valid, k: v}).encode(),
        st.sampled_from(sorted(valid)),
        st.one_of(st.none(), st.integers(), st.text(max_size=300), st.lists(st.integers(), max_size=3)),
    )
    records_strategy = st.lists(
        st.one_of(st.binary(max_size=400), st.text(max_size=200).map(str.encode), mutated), min_size=60, max_size=60
    )
    batches: list[list[bytes]] = []

    @hypothesis_settings(
        max_examples=3 if not LONG else 20, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(records_strategy)
    def collect(batch: list[bytes]) -> None:
        batches.append(batch)

    collect()
    records = [r for batch in batches for r in batch]
    rejected = []
    for r in records:
        try:
            parse_lifecycle(r)
        except InvalidInput:
            rejected.append(r)
    settings = test_settings(kafka_bootstrap, tmp_path, fleet)
    await create_topic(kafka_bootstrap, settings.lifecycle_topic, 2)
    async with running(settings), producer(kafka_bootstrap) as p:
        for r in records:
            await p.send_and_wait(settings.lifecycle_topic, r, key=b"fuzz")
        await p.send_and_wait(settings.lifecycle_topic, lifecycle("started", "after-fuzz", "bot-1", -5), key=b"af")
        dead = await read_topic(kafka_bootstrap, settings.dlq_topic, until=lambda rs: len(rs) >= len(rejected))
        healed = await read_topic(
            kafka_bootstrap,
            settings.recoveries_topic,
            timeout_s=30,
            until=lambda rs: ("after-fuzz", "orphan_recovered") in marked(rs),
        )
    print(f"\nfuzz: {len(records)} records tried, {len(rejected)} invalid, {len(dead)} in the DLQ")
    assert sorted(r.value or b"" for r in dead) == sorted(rejected)
    assert all(r.headers.get("error") and r.headers.get("source") for r in dead)
    assert ("after-fuzz", "orphan_recovered") in marked(healed)


async def test_three_instances_and_rebalances_lose_nothing_and_double_nothing(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet
) -> None:
    from exec_watchdog.adapters.store import Store

    settings = test_settings(kafka_bootstrap, tmp_path, fleet, kafka_session_timeout_s=6)
    await create_topic(kafka_bootstrap, settings.lifecycle_topic, 6)
    waves = [[f"w{w}-{n}" for n in range(15)] for w in range(3)]

    async def send(p: object, wave: list[str]) -> None:
        for x in wave:
            await p.send_and_wait(settings.lifecycle_topic, lifecycle("started", x, "bot-2", -5), key=x.encode())  # type: ignore[attr-defined]

    async with producer(kafka_bootstrap) as p, running(settings) as a:
        async with running(settings):
            async with running(settings):
                await send(p, waves[0])
                await asyncio.sleep(1.5)
            await send(p, waves[1])  # c left: a and b take its partitions
            async with running(settings) as d:
                await asyncio.sleep(1.0)
                await send(p, waves[2])
                await asyncio.sleep(1.0)
        # b left too; a and d carry on
        everyone = {x for wave in waves for x in wave}
        records = await read_topic(
            kafka_bootstrap,
            settings.recoveries_topic,
            timeout_s=60,
            until=lambda rs: {x for x, _ in marked(rs)} >= everyone,
        )
        assert a.owned() and d.owned() is not None
    store = Store(settings.database_url, settings.group_id)
    marks = {x: [r for r in store.outbox_rows(x) if r.kind == "mark_failed" and r.status == "done"] for x in everyone}
    store.close()
    print(f"\nthree instances: {len(everyone)} orphans over 3 waves and 3 rebalances, {len(marked(records))} recovered")
    assert {x for x, _ in marked(records)} == everyone
    assert all(len(m) == 1 for m in marks.values())
