"""Many executions in one instance, watched from outside: `exec-watchdog run` as its own process.

    python -m bench.scale [--executions 1000000] [--first 300000] [--beats 300000]

On a local broker (6 partitions) and a fresh SQLite store:
1. Memory: `--first` executions start in a burst, then the rest; once each burst is applied (the
   store says so), the process's resident memory. The slope between the two is the cost of one more
   tracked execution. Target: at most 1 KB.
2. Stop: SIGTERM to exit, and whether the final snapshot was written (the store's positions are the
   log's end). Target: at most 5 s, written.
3. Restart: process start to `/readyz` 200 (every partition restored and caught up), and the
   resident memory after. Target: at most 10 s.
4. Throughput at that many tracked: `--beats` heartbeats written while the service is stopped; from
   the first record it reads after a restart (its `watchdog_events_consumed_total` moves) to every position in
   its store, against a bare aiokafka consumer that reads and `json.loads` the same records in this
   process. Target: at least 0.5 of the bare consumer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.history import execution_id, lifecycle_record
from bench.outside import RunProcess, Topics
from bench.report import Figure, report
from bench.service_run import create_topic
from exec_watchdog.demo.local_broker import TansuBroker

PARTITIONS = 6
SETTINGS = {
    "heartbeat_timeout_s": 3600,  # nothing falls due: the figures are the cost of tracking
    "tick_interval_s": 1,
    "snapshot_interval_s": 1,
    "brake_enabled": False,
    "agent_url_template": "http://127.0.0.1:9/{agent_name}",
}


async def write(bootstrap: str, topic: str, kind: str, numbers: range) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=256 * 1024)
    await producer.start()
    try:
        for n in numbers:
            at = time.time_ns() // 1000
            await producer.send(topic, lifecycle_record(kind, n, at, f"{kind}-{n}-{at}"), key=execution_id(n).encode())
        await producer.flush()
    finally:
        await producer.stop()
    return len(numbers)


async def ends(bootstrap: str, topic: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        return dict(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


async def bare(bootstrap: str, since: dict[TopicPartition, int], until: dict[TopicPartition, int]) -> float:
    """Records/s of a consumer that reads the segment and json.loads each record."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, max_poll_records=5000)
    await consumer.start()
    total = sum(until[tp] - since[tp] for tp in until)
    try:
        consumer.assign(list(until))
        for tp, offset in since.items():
            consumer.seek(tp, offset)
        seen, started = 0, None
        while seen < total:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            if started is None and batches:
                started = time.perf_counter()
            for tp, messages in batches.items():
                for m in messages:
                    if m.offset < until[tp]:
                        json.loads(m.value or b"")
                        seen += 1
        return total / (time.perf_counter() - (started or time.perf_counter()))
    finally:
        await consumer.stop()


def first_read(run: RunProcess, before: float, timeout_s: float = 600) -> float:
    """The monotonic time `watchdog_events_consumed_total` first moved past `before` (polled every 20 ms)."""
    deadline = time.monotonic() + timeout_s
    while run.metric("watchdog_events_consumed_total") <= before:
        if time.monotonic() > deadline:
            raise TimeoutError("the service read nothing")
        time.sleep(0.02)
    return time.monotonic()


async def one_run(bootstrap: str, executions: int, first: int, beats: int) -> dict[str, float]:
    topics = Topics(f"lifecycle-{uuid.uuid4().hex[:6]}")
    await create_topic(bootstrap, topics.lifecycle, PARTITIONS)
    run = RunProcess(bootstrap, topics, **SETTINGS)
    run.start()
    run.wait_ready(timeout_s=120)
    base_rss = run.rss_bytes()
    written = await write(bootstrap, topics.lifecycle, "started", range(first))
    run.wait_stored(written)
    rss_first = run.rss_bytes()
    written += await write(bootstrap, topics.lifecycle, "started", range(first, executions))
    run.wait_stored(written)
    rss_all = run.rss_bytes()
    stop_s = run.stop()
    final_written = run.stored_offsets() == written and "before the final snapshot" not in run.log()
    run.start()
    ready_s = run.wait_ready()
    rss_restarted = run.rss_bytes()
    run.stop()
    since = await ends(bootstrap, topics.lifecycle)
    written += await write(bootstrap, topics.lifecycle, "heartbeat", range(0, executions, max(1, executions // beats)))
    until = await ends(bootstrap, topics.lifecycle)
    run.start()
    started = first_read(run, 0)
    service_rate = (written - sum(since.values())) / (run.wait_stored(written) - started)
    run.stop()
    bare_rate = await bare(bootstrap, since, until)
    return {
        "base_mb": base_rss / 1e6,
        "per_execution": (rss_all - rss_first) / max(1, executions - first),
        "rss_mb": rss_all / 1e6,
        "rss_restarted_mb": rss_restarted / 1e6,
        "stop_s": stop_s,
        "final_snapshot": float(final_written),
        "ready_s": ready_s,
        "service_rate": service_rate,
        "bare_rate": bare_rate,
        "ratio": service_rate / bare_rate,
    }


async def run(executions: int, first: int, beats: int, runs: int) -> dict[str, object]:
    broker = TansuBroker()
    bootstrap = broker.start()
    try:
        outcomes = [await one_run(bootstrap, executions, first, beats) for _ in range(runs)]
    finally:
        broker.stop()
    figures = [
        Figure("resident memory, started and idle", "MB", [o["base_mb"] for o in outcomes]),
        Figure(f"resident memory at {executions:,} tracked", "MB", [o["rss_mb"] for o in outcomes]),
        Figure(
            f"resident bytes per execution ({first:,} to {executions:,})", "B", [o["per_execution"] for o in outcomes]
        ),
        Figure("SIGTERM to exit", "s", [o["stop_s"] for o in outcomes]),
        Figure("final snapshot written on stop (1 = yes)", "", [o["final_snapshot"] for o in outcomes]),
        Figure("restart to ready", "s", [o["ready_s"] for o in outcomes]),
        Figure("resident memory after the restart", "MB", [o["rss_restarted_mb"] for o in outcomes]),
        Figure("exec-watchdog run, first record to all stored", "records/s", [o["service_rate"] for o in outcomes]),
        Figure("bare consumer + json.loads", "records/s", [o["bare_rate"] for o in outcomes]),
        Figure("ratio (run / bare)", "x", [o["ratio"] for o in outcomes]),
    ]
    met = {
        "memory": figures[2].median <= 1024,
        "stop": figures[3].median <= 5 and min(figures[4].runs) == 1,
        "ready": figures[5].median <= 10,
        "throughput": figures[9].median >= 0.5,
    }
    return report(f"scale: {executions:,} executions in one `exec-watchdog run`", figures, {"met": met})


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--first", type=int, default=300_000)
    parser.add_argument("--beats", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args(argv)
    return asyncio.run(run(args.executions, min(args.first, args.executions), args.beats, args.runs))


if __name__ == "__main__":
    main()
