"""Many executions in one instance, watched from outside: `exec-watchdog run` as its own process.

    python -m bench.scale [--executions 1000000] [--first 300000] [--beats 300000]

On a local broker (6 partitions; `--broker apache` for Apache Kafka, else Tansu) and a fresh SQLite
store, with a snapshot every second:
1. Memory: `--first` executions start in a burst, then the rest; once each burst is applied (the
   store says so), the process's resident memory. The slope between the two is the cost of one more
   tracked execution. Target: at most 1 KB.
2. No stall: `--rate` heartbeats/s flow for `--flow-s` seconds over the tracked executions; the gaps
   between consecutive ticks of a partition in the control log (a stalled event loop writes none).
   Target: p99 under 1.5 x TICK_INTERVAL_S.
3. Stop: SIGTERM to exit, and whether the final snapshot was written (the store's positions are the
   log's end). Target: at most 5 s, written.
4. Restart: process start to `/readyz` 200 (every partition restored and caught up), of which the
   restore itself (from the assignment to the last partition restored, from the log), and the
   resident memory after. Target: at most 10 s.
5. Throughput at that many tracked: `--beats` heartbeats written while the restarted service is
   frozen (SIGSTOP; its session timeout is a minute, so it stays in the group), stamped at the moment
   it was frozen (input it had fallen behind on; a heartbeat stamped seconds past the watchdog's last
   tick is not believed as stamped, and takes the full path with a decision record of its own); from
   letting it go (SIGCONT) to every position in its store (snapshots every second: up to a second
   late), against a bare aiokafka consumer that reads and `json.loads` the same records in this
   process. Target: at least 0.5 of the bare consumer.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.history import execution_id, lifecycle_record
from bench.outside import RunProcess, Topics
from bench.report import Figure, column, report
from bench.service_run import create_topic
from exec_watchdog.demo.local_broker import TansuBroker

PARTITIONS = 6
SETTINGS = {
    "heartbeat_timeout_s": 3600,  # nothing falls due: the figures are the cost of tracking
    "tick_interval_s": 1,
    "snapshot_interval_s": 1,
    "brake_enabled": False,
    "kafka_session_timeout_s": 60,  # frozen while the throughput phase's input is written
    "agent_url_template": "http://127.0.0.1:9/{agent_name}",
}


async def write(bootstrap: str, topic: str, kind: str, numbers: Sequence[int], stamped_us: int | None = None) -> int:
    """One `kind` record for each execution number, stamped now (or all at `stamped_us`)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=256 * 1024)
    await producer.start()
    try:
        for i, n in enumerate(numbers):
            at = stamped_us or time.time_ns() // 1000
            record = lifecycle_record(kind, n, at, f"{kind}-{n}-{at}-{i}")
            await producer.send(topic, record, key=execution_id(n).encode())
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


async def flow(bootstrap: str, topic: str, executions: int, rate: int, seconds: float) -> int:
    """Heartbeats at `rate` per second, round the tracked executions, for `seconds`."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    sent, n, slice_s = 0, 0, 0.05
    try:
        end = time.monotonic() + seconds
        while (now := time.monotonic()) < end:
            for _ in range(int(rate * slice_s)):
                at = time.time_ns() // 1000
                await producer.send(
                    topic, lifecycle_record("heartbeat", n, at, f"f-{n}-{at}"), key=execution_id(n).encode()
                )
                n, sent = (n + 1) % executions, sent + 1
            await asyncio.sleep(max(0.0, now + slice_s - time.monotonic()))
        await producer.flush()
    finally:
        await producer.stop()
    return sent


async def tick_gaps(bootstrap: str, topic: str, since_us: int, until_us: int) -> list[float]:
    """Seconds between consecutive ticks of each partition, for ticks between the two times."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    nows: dict[int, list[int]] = {}
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for tp, messages in (await consumer.getmany(timeout_ms=500)).items():
                for m in messages:
                    body = json.loads(m.value or b"{}")
                    if body.get("type") == "watchdog.tick":
                        now = datetime.fromisoformat(body["now"].replace("Z", "+00:00"))
                        nows.setdefault(tp.partition, []).append(int(now.timestamp() * 1e6))
    finally:
        await consumer.stop()
    gaps = []
    for times in nows.values():
        kept = [t for t in times if since_us <= t <= until_us]
        gaps += [(b - a) / 1e6 for a, b in itertools.pairwise(kept)]
    return gaps


def restore_seconds(log: str) -> float:
    """From the assignment to the last partition restored, in the latest start's log lines."""
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    start = max(i for i, line in enumerate(lines) if line["message"] == "starting")
    running = [line for line in lines[start:] if " running (group " in line["message"]]
    restored = [line for line in lines[start:] if "restored:" in line["message"] or "kept" in line["message"]]
    if not running or not restored:
        return float("nan")
    at = [datetime.fromisoformat(line["ts"].replace("Z", "+00:00")) for line in (running[0], restored[-1])]
    return (at[1] - at[0]).total_seconds()


async def one_run(
    bootstrap: str, executions: int, first: int, beats: int, rate: int, flow_s: float
) -> dict[str, float]:
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
    since_us = time.time_ns() // 1000
    written += await flow(bootstrap, topics.lifecycle, executions, rate, flow_s)
    gaps = sorted(await tick_gaps(bootstrap, topics.env()["WATCHDOG_CONTROL_TOPIC"], since_us, time.time_ns() // 1000))
    run.wait_stored(written)
    stop_s = run.stop()
    final_written = run.stored_offsets() == written and "before the final snapshot" not in run.log()
    run.start()
    ready_s = run.wait_ready()
    rss_restarted = run.rss_bytes()
    restore_s = restore_seconds(run.log())
    since = await ends(bootstrap, topics.lifecycle)
    run.pause()
    started = time.monotonic()
    spread = max(1, executions // beats)  # over every tracked execution; round them again if fewer
    beating = [n * spread % executions for n in range(beats)]
    written += await write(bootstrap, topics.lifecycle, "heartbeat", beating, stamped_us=time.time_ns() // 1000)
    write_rate = (written - sum(since.values())) / (time.monotonic() - started)
    until = await ends(bootstrap, topics.lifecycle)
    resumed = run.resume()
    service_rate = (written - sum(since.values())) / (run.wait_stored(written) - resumed)
    run.stop()
    bare_rate = await bare(bootstrap, since, until)
    return {
        "base_mb": base_rss / 1e6,
        "per_execution": (rss_all - rss_first) / max(1, executions - first),
        "rss_mb": rss_all / 1e6,
        "rss_restarted_mb": rss_restarted / 1e6,
        "gap_p50": statistics.median(gaps) if gaps else float("inf"),
        "gap_p99": gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))] if gaps else float("inf"),
        "gap_max": gaps[-1] if gaps else float("inf"),
        "stop_s": stop_s,
        "restore_s": restore_s,
        "final_snapshot": float(final_written),
        "ready_s": ready_s,
        "service_rate": service_rate,
        "bare_rate": bare_rate,
        "write_rate": write_rate,
        "ratio": service_rate / bare_rate,
    }


def broker_options(parser: argparse.ArgumentParser, default: str) -> None:
    """`--broker` (which local broker to start) and `--bootstrap` (a running one instead), for `broker`."""
    parser.add_argument("--broker", choices=["tansu", "apache"], default=default)
    parser.add_argument("--bootstrap", help="a running broker to use instead of starting one")


@contextmanager
def broker(kind: str, bootstrap: str | None = None) -> Iterator[str]:
    """A local broker of this kind for the run, or the one at `bootstrap` (`--bootstrap`)."""
    if bootstrap:
        yield bootstrap
        return
    if kind == "apache":
        from tests.services.brokers import local_kafka  # the tests' Apache Kafka (jars from Maven Central)

        with local_kafka(1) as kafka:
            yield kafka.bootstrap
        return
    tansu = TansuBroker()
    try:
        yield tansu.start()
    finally:
        tansu.stop()


async def run(args: argparse.Namespace) -> dict[str, object]:
    executions, first = args.executions, min(args.first, args.executions)
    with broker(args.broker, args.bootstrap) as bootstrap:
        outcomes = [
            await one_run(bootstrap, executions, first, args.beats, args.rate, args.flow_s) for _ in range(args.runs)
        ]

    def figure(name: str, unit: str, key: str) -> Figure:
        return column(outcomes, name, unit, key)

    figures = [
        figure("resident memory, started and idle", "MB", "base_mb"),
        figure(f"resident memory at {executions:,} tracked", "MB", "rss_mb"),
        figure(f"resident bytes per execution, {first:,} to {executions:,}", "B", "per_execution"),
        figure(f"tick gap p50, {args.rate:,} heartbeats/s flowing", "s", "gap_p50"),
        figure(f"tick gap p99, {args.rate:,} heartbeats/s flowing", "s", "gap_p99"),
        figure("tick gap max", "s", "gap_max"),
        figure("SIGTERM to exit", "s", "stop_s"),
        figure("final snapshot written on stop (1 = yes)", "", "final_snapshot"),
        figure("restart to ready", "s", "ready_s"),
        figure("of which the restore (assignment to last partition restored)", "s", "restore_s"),
        figure("resident memory after the restart", "MB", "rss_restarted_mb"),
        figure("exec-watchdog run, first record to all stored", "records/s", "service_rate"),
        figure("bare consumer + json.loads", "records/s", "bare_rate"),
        figure("the heartbeats written at (while it was frozen)", "records/s", "write_rate"),
        figure("ratio (run / bare)", "x", "ratio"),
    ]
    by_name = {f.name: f for f in figures}
    met = {
        "memory": figures[2].median <= 1024,
        "no_stall": figures[4].median < 1.5 * float(SETTINGS["tick_interval_s"]),
        "stop": figures[6].median <= 5 and min(figures[7].runs) == 1,
        "ready": figures[8].median <= 10,
        "throughput": by_name["ratio (run / bare)"].median >= 0.5,
    }
    title = f"scale: {executions:,} executions in one `exec-watchdog run` ({args.broker})"
    return report(title, figures, {"met": met})


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--first", type=int, default=300_000)
    parser.add_argument("--beats", type=int, default=300_000)
    parser.add_argument("--rate", type=int, default=5_000, help="heartbeats/s in the no-stall phase")
    parser.add_argument("--flow-s", type=float, default=30)
    broker_options(parser, default="tansu")
    parser.add_argument("--runs", type=int, default=1)
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
