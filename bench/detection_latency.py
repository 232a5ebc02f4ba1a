"""Detection latency: how soon a silent execution is suspected while the service carries a heavy load.

    python -m bench.detection_latency [--rate 20000] [--victims 100] [--runs 3]

A separate process writes heartbeats at `--rate` events/s (`rate` executions, one beat a second
each) to a local broker. After a warm-up, `--victims` of them fall silent one by one. The service
runs in this process; each victim's latency is from its last heartbeat's `occurred_at` to the
moment its record leaves `running`. Target: p99 within `HEARTBEAT_TIMEOUT_S` + 0.5 s (the ticker also
ticks a partition when its engine's earliest deadline falls due, so the tick interval is not added).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import time
import uuid
from dataclasses import dataclass
from multiprocessing.queues import Queue
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.history import execution_id, lifecycle_record
from bench.report import Figure, report
from bench.service_run import applied_lifecycle, create_topic, running_service
from exec_watchdog.demo.local_broker import TansuBroker
from exec_watchdog.demo.standin_fleet import StandinFleet
from exec_watchdog.service.service import Service
from schemas.fields import State

SLICE_S = 0.05


@dataclass(frozen=True)
class Timing:
    heartbeat_timeout_s: float = 5.0
    tick_interval_s: float = 1.0
    warm_up_s: float = 12.0
    """Before the first victim falls silent: the `started` burst is absorbed, the load is steady."""
    spread_s: float = 5.0
    """Victims fall silent one after another over this long."""

    @property
    def bound_s(self) -> float:
        return self.heartbeat_timeout_s + 0.5

    @property
    def duration_s(self) -> float:
        return self.warm_up_s + self.spread_s + 2 * self.bound_s + 4


def victim_numbers(rate: int, victims: int) -> range:
    return range(0, rate, max(1, rate // victims))


def _record(kind: str, n: int, at_us: int) -> bytes:
    return lifecycle_record(kind, n, at_us, f"{kind}-{n}-{at_us}")


async def _generate(bootstrap: str, topic: str, rate: int, victims: int, timing: Timing) -> dict[str, Any]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        for n in range(rate):
            await producer.send(topic, _record("started", n, time.time_ns() // 1000), key=execution_id(n).encode())
        t0 = time.time()
        spread = timing.spread_s / victims
        silent_from = {n: t0 + timing.warm_up_s + spread * i for i, n in enumerate(victim_numbers(rate, victims))}
        last: dict[int, int] = {}
        sent, n = 0, 0
        while (now := time.time()) < t0 + timing.duration_s:
            for _ in range(int(rate * SLICE_S)):
                at_us = time.time_ns() // 1000
                if n not in silent_from or at_us < silent_from[n] * 1_000_000:
                    await producer.send(topic, _record("heartbeat", n, at_us), key=execution_id(n).encode())
                    last[n] = at_us
                    sent += 1
                n = (n + 1) % rate
            await asyncio.sleep(max(0.0, now + SLICE_S - time.time()))
        await producer.flush()
        last_beats = {execution_id(v): last[v] for v in silent_from}
        return {"sent": sent, "seconds": time.time() - t0, "last_beat_us": last_beats}
    finally:
        await producer.stop()


def _generator(bootstrap: str, topic: str, rate: int, victims: int, timing: Timing, out: Queue[Any]) -> None:
    out.put(asyncio.run(_generate(bootstrap, topic, rate, victims, timing)))


def _state(service: Service, execution: str) -> State | None:
    assert service.consumer is not None
    for partition in service.consumer.owned.values():
        record = partition.engine.records.get(execution)
        if record is not None:
            return record.state
    return None


async def one_run(bootstrap: str, fleet: StandinFleet, rate: int, victims: int, timing: Timing) -> dict[str, float]:
    topic = f"lifecycle-{uuid.uuid4().hex[:6]}"
    await create_topic(bootstrap, topic, 6)
    settings = {"heartbeat_timeout_s": timing.heartbeat_timeout_s, "tick_interval_s": timing.tick_interval_s}
    async with running_service(bootstrap, topic, fleet, **settings) as service:
        context = multiprocessing.get_context("spawn")
        results: Queue[Any] = context.Queue()
        load = context.Process(target=_generator, args=(bootstrap, topic, rate, victims, timing, results))
        load.start()
        candidates = [execution_id(n) for n in victim_numbers(rate, victims)]
        detected: dict[str, int] = {}
        applied_at_warm_up, measured_from = 0, time.monotonic()
        warm_up_end = measured_from + timing.warm_up_s
        while results.empty() and load.is_alive():
            if applied_at_warm_up == 0 and time.monotonic() >= warm_up_end:
                applied_at_warm_up, measured_from = applied_lifecycle(service), time.monotonic()
            for x in candidates:
                if x not in detected and _state(service, x) not in (State.RUNNING, None):
                    detected[x] = time.time_ns() // 1000
            await asyncio.sleep(0.02)
        applied_rate = (applied_lifecycle(service) - applied_at_warm_up) / (time.monotonic() - measured_from)
        outcome = results.get(timeout=30)  # raises if the load generator died without a result
        load.join()
    latencies = sorted((detected[x] - at) / 1e6 for x, at in outcome["last_beat_us"].items() if x in detected)
    return {
        "load_sent": outcome["sent"] / outcome["seconds"],
        "load_applied": applied_rate,
        "p50": statistics.median(latencies) if latencies else float("inf"),
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("inf"),
        "max": latencies[-1] if latencies else float("inf"),
        "missed": len(outcome["last_beat_us"]) - len(latencies),
    }


async def run(rate: int, victims: int, runs: int, timing: Timing) -> dict[str, object]:
    broker = TansuBroker()
    bootstrap = broker.start()
    fleet = StandinFleet()
    fleet.start()
    try:
        outcomes = [await one_run(bootstrap, fleet, rate, victims, timing) for _ in range(runs)]
    finally:
        fleet.stop()
        broker.stop()
    bound = timing.bound_s
    figures = [
        Figure("background load written", "events/s", [o["load_sent"] for o in outcomes]),
        Figure("background load applied", "events/s", [o["load_applied"] for o in outcomes]),
        Figure("detection latency p50", "s", [o["p50"] for o in outcomes]),
        Figure("detection latency p99", "s", [o["p99"] for o in outcomes]),
        Figure("detection latency max", "s", [o["max"] for o in outcomes]),
        Figure("victims never detected", "executions", [o["missed"] for o in outcomes]),
    ]
    title = f"detection latency: {victims} silent among {rate:,} executions beating once a second"
    extra = {"bound_s": bound, "met": figures[3].median <= bound and figures[1].median >= 0.95 * rate}
    return report(title, figures, extra)


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=20_000)
    parser.add_argument("--victims", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--heartbeat-timeout", type=float, default=Timing.heartbeat_timeout_s)
    parser.add_argument("--tick", type=float, default=Timing.tick_interval_s)
    parser.add_argument("--warm-up", type=float, default=Timing.warm_up_s)
    parser.add_argument("--spread", type=float, default=Timing.spread_s)
    args = parser.parse_args(argv)
    timing = Timing(args.heartbeat_timeout, args.tick, args.warm_up, args.spread)
    return asyncio.run(run(args.rate, args.victims, args.runs, timing))


if __name__ == "__main__":
    main()
