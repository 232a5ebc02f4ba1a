"""Recoveries never wait behind audit records: orphans recovered on time right after a burst of decisions.

    python -m bench.recovery_under_burst [--burst 1000000] [--victims 50]

`exec-watchdog run` runs as its own process (local broker, fresh SQLite store, 6 partitions). Victim
executions start and beat once a second. Then a burst: `--burst` executions start and end (a
restarted bridge replaying history, a fleet-wide schedule): two decision records each, each one an
audit record to publish. Once the service has applied the burst, the victims fall silent; the agent
does not know them, so each must be recovered (`orphan_recovered` on the recoveries topic). Latency:
from a victim's last heartbeat to its recovery event on the broker. Target: every one within
HEARTBEAT_TIMEOUT_S + 2 s, whatever the audit backlog is then (reported, with how long the audit
lane took to publish all of it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import and_, create_engine, func, select

from bench.history import execution_id, lifecycle_record
from bench.outside import RunProcess, Topics
from bench.report import Figure, column, report
from bench.scale import broker, broker_options, ends
from bench.service_run import create_topic
from exec_watchdog.adapters.store_tables import audit_cursor, decisions
from exec_watchdog.demo.standin_fleet import StandinFleet

TIMEOUT_S = 5.0
VICTIM_BASE = 90_000_000


def unpublished(run: RunProcess) -> int:
    """Decisions whose audit records are not yet on the broker (read from the store, from outside)."""
    engine = create_engine(run.database_url)
    try:
        with engine.connect() as conn:
            d, a = decisions.c, audit_cursor.c
            cursor = select(func.coalesce(func.max(a.published_id), -1)).where(
                and_(a.group_id == d.group_id, a.topic == d.topic, a.partition == d.partition)
            )
            query = select(func.count()).select_from(decisions).where(d.id > cursor.scalar_subquery())
            return int(conn.execute(query).scalar() or 0)
    finally:
        engine.dispose()


async def beat_victims(bootstrap: str, topic: str, victims: list[int], stop: asyncio.Event) -> dict[str, int]:
    """Start the victims, beat each once a second until `stop`; their last heartbeats' times."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    last: dict[str, int] = {}
    try:
        for kind in ("started", "heartbeat"):
            while True:
                for n in victims:
                    at = time.time_ns() // 1000
                    value = lifecycle_record(kind, n, at, f"v-{n}-{at}")
                    await producer.send(topic, value, key=execution_id(n).encode())
                    last[execution_id(n)] = at
                await producer.flush()
                if kind == "started" or stop.is_set():
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)
    finally:
        await producer.stop()
    return last


async def write_burst(bootstrap: str, topic: str, burst: int) -> None:
    """`started` then at once `completed` for each burst execution: none of them lives long enough to
    be suspected, every one makes two decisions."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=256 * 1024)
    await producer.start()
    try:
        for n in range(burst):
            at = time.time_ns() // 1000
            for kind in ("started", "completed"):
                await producer.send(topic, lifecycle_record(kind, n, at, f"{kind}-{n}"), key=execution_id(n).encode())
        await producer.flush()
    finally:
        await producer.stop()


async def recovered(bootstrap: str, topic: str, wanted: set[str], timeout_s: float) -> dict[str, int]:
    """When each wanted execution's `orphan_recovered` event reached the broker (its log append time)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    found: dict[str, int] = {}
    try:
        deadline = time.monotonic() + timeout_s
        while set(found) < wanted and time.monotonic() < deadline:
            for messages in (await consumer.getmany(timeout_ms=200)).values():
                for m in messages:
                    event = json.loads(m.value or b"{}")
                    if event.get("action") == "orphan_recovered" and event.get("execution_id") in wanted:
                        found.setdefault(event["execution_id"], m.timestamp * 1000)  # the service's send time
    finally:
        await consumer.stop()
    return found


async def one_run(bootstrap: str, fleet: StandinFleet, burst: int, victims: int) -> dict[str, float]:
    topics = Topics(f"lifecycle-{uuid.uuid4().hex[:6]}")
    await create_topic(bootstrap, topics.lifecycle, 6)
    settings = {
        "heartbeat_timeout_s": TIMEOUT_S,
        "snapshot_interval_s": 1,
        "min_age_s": 1,  # a victim is old enough to be an orphan as soon as it falls silent
        "tick_interval_s": 1,
        "brake_enabled": False,
        "agent_url_template": fleet.url_template,
    }
    run = RunProcess(bootstrap, topics, **settings)
    run.start()
    run.wait_ready(timeout_s=120)
    numbers = [VICTIM_BASE + n for n in range(victims)]
    stop = asyncio.Event()
    beating = asyncio.create_task(beat_victims(bootstrap, topics.lifecycle, numbers, stop))
    await write_burst(bootstrap, topics.lifecycle, burst)
    started = time.monotonic()
    total = sum((await ends(bootstrap, topics.lifecycle)).values())
    await asyncio.to_thread(run.wait_stored, total)  # the burst is applied (the victims beat meanwhile)
    applied_s = time.monotonic() - started
    backlog = unpublished(run)
    stop.set()
    last = await beating
    found = await recovered(bootstrap, topics.env()["WATCHDOG_RECOVERIES_TOPIC"], set(last), TIMEOUT_S + 60)
    drained = time.monotonic()
    while unpublished(run) and time.monotonic() - drained < 1800:
        await asyncio.sleep(0.5)
    audit_s = time.monotonic() - started
    run.stop()
    latencies = sorted((found[x] - at) / 1e6 for x, at in last.items() if x in found)
    return {
        "applied_s": applied_s,
        "backlog": backlog,
        "audit_s": audit_s,
        "p50": latencies[len(latencies) // 2] if latencies else float("inf"),
        "max": latencies[-1] if latencies else float("inf"),
        "missed": len(last) - len(latencies),
    }


async def run(burst: int, victims: int, runs: int, kind: str, given: str | None = None) -> dict[str, object]:
    fleet = StandinFleet()
    fleet.start()
    try:
        with broker(kind, given) as bootstrap:
            outcomes = [await one_run(bootstrap, fleet, burst, victims) for _ in range(runs)]
    finally:
        fleet.stop()

    def figure(name: str, unit: str, key: str) -> Figure:
        return column(outcomes, name, unit, key)

    figures = [
        figure(f"burst of {burst:,} started + {burst:,} completed applied in", "s", "applied_s"),
        figure("audit records unpublished when the victims fell silent", "records", "backlog"),
        figure("every audit record published, from the burst's end", "s", "audit_s"),
        figure("recovery latency p50 (last heartbeat to event)", "s", "p50"),
        figure("recovery latency max", "s", "max"),
        figure("victims never recovered", "executions", "missed"),
    ]
    bound = TIMEOUT_S + 2
    met = figures[4].median <= bound and max(figures[5].runs) == 0
    return report(f"recoveries after a burst of decisions ({kind})", figures, {"bound_s": bound, "met": met})


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--burst", type=int, default=1_000_000)
    parser.add_argument("--victims", type=int, default=50)
    parser.add_argument("--runs", type=int, default=1)
    broker_options(parser, default="tansu")
    args = parser.parse_args(argv)
    return asyncio.run(run(args.burst, args.victims, args.runs, args.broker, args.bootstrap))


if __name__ == "__main__":
    main()
