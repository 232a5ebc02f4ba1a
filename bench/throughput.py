"""Throughput: `exec-watchdog run` against a bare aiokafka consumer that only json.loads each record.

    python -m bench.throughput [--executions 20000] [--runs 3]

Both read the same records from the same local broker (one `started` and nine heartbeats per
execution, 6 partitions). Target: the service at 0.8x the bare consumer or better.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.history import lifecycle_records
from bench.report import Figure, report
from bench.service_run import applied_lifecycle, create_topic, running_service
from exec_watchdog.demo.local_broker import TansuBroker
from exec_watchdog.demo.standin_fleet import StandinFleet
from exec_watchdog.service.collector import tune_for_long_lived_state


async def fill(bootstrap: str, topic: str, executions: int) -> int:
    await create_topic(bootstrap, topic, 6)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
    await producer.start()
    sent = 0
    for key, value in lifecycle_records(executions, time.time_ns() // 1000, 1_000_000):
        await producer.send(topic, value, key=key)
        sent += 1
    await producer.flush()
    await producer.stop()
    return sent


async def bare(bootstrap: str, topic: str, total: int) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bare-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=5000,
    )
    await consumer.start()
    seen, started = 0, None
    try:
        while seen < total:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            if started is None and batches:
                started = time.perf_counter()
            for messages in batches.values():
                for m in messages:
                    json.loads(m.value)
                seen += len(messages)
    finally:
        await consumer.stop()
    return total / (time.perf_counter() - (started or time.perf_counter()))


async def watchdog(bootstrap: str, topic: str, total: int, fleet: StandinFleet) -> float:
    async with running_service(bootstrap, topic, fleet) as service:
        started = time.perf_counter()
        while applied_lifecycle(service) < total:
            await asyncio.sleep(0.01)
        return total / (time.perf_counter() - started)


async def run(executions: int, runs: int) -> dict[str, object]:
    tune_for_long_lived_state()  # both sides under the collector settings `exec-watchdog run` uses
    broker = TansuBroker()
    bootstrap = broker.start()
    fleet = StandinFleet()
    fleet.start()
    try:
        topic = f"lifecycle-{uuid.uuid4().hex[:6]}"
        total = await fill(bootstrap, topic, executions)
        bare_rates, watchdog_rates = [], []
        for _ in range(runs):
            bare_rates.append(await bare(bootstrap, topic, total))
            watchdog_rates.append(await watchdog(bootstrap, topic, total, fleet))
    finally:
        fleet.stop()
        broker.stop()
    ratios = [w / b for w, b in zip(watchdog_rates, bare_rates, strict=True)]
    figures = [
        Figure("bare consumer + json.loads", "records/s", bare_rates),
        Figure("exec-watchdog run", "records/s", watchdog_rates),
        Figure("ratio (run / bare)", "x", ratios),
    ]
    return report(
        f"throughput: {total:,} records, 6 partitions", figures, {"target_ratio": 0.8, "met": figures[2].median >= 0.8}
    )


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    return asyncio.run(run(args.executions, args.runs))


if __name__ == "__main__":
    main()
