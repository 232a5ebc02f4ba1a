"""Timers: a tick with N tracked executions and none due, against one with K due.

    python -m bench.timers [--executions 1000000] [--due 1000] [--runs 5]

Target: under 1 ms per tick at 1,000,000 tracked and none due; the cost follows what is due.
"""

from __future__ import annotations

import argparse
import time

from bench.report import measure, report
from schemas import State, Tick
from statemachine import Engine, ExecutionRecord, Policy
from statemachine.timestamps import from_micros

T0 = 1_796_000_000_000_000
SECOND = 1_000_000


def engine_with(executions: int, policy: Policy) -> Engine:
    records = (
        ExecutionRecord(f"exec-{n:07d}", f"bot-{n % 50}", State.RUNNING, T0, T0 + (n % 60) * SECOND, T0)
        for n in range(executions)
    )
    return Engine(policy, records)


def tick_cost(engine: Engine, now_us: int) -> float:
    tick = Tick(schema_version=1, type="watchdog.tick", now=from_micros(now_us))
    started = time.perf_counter()
    engine.apply(tick)
    return (time.perf_counter() - started) * 1000


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    policy = Policy(heartbeat_timeout_s=90, idle_after_s=10**6, default_timeout_s=10**6, brake_enabled=False)
    big = engine_with(args.executions, policy)
    small = engine_with(min(10_000, args.executions), policy)
    clock = iter(range(1, 10**6))
    none_due_big = measure(
        "tick, none due, all tracked", "ms", args.runs, lambda: tick_cost(big, T0 + next(clock) * 1000)
    )
    none_due_small = measure(
        "tick, none due, 10,000 tracked", "ms", args.runs, lambda: tick_cost(small, T0 + next(clock) * 1000)
    )
    # Now let `due` executions fall silent at once: their deadlines (last seen + 90 s) pass together.
    due = engine_with(args.executions, policy)
    due.records.update(
        {
            x: ExecutionRecord(x, "bot-0", State.RUNNING, T0, T0 - 200 * SECOND, T0)
            for x in (f"exec-{n:07d}" for n in range(args.due))
        }
    )
    due = Engine(policy, due.records.values())
    some_due = measure(f"tick, {args.due} due, all tracked", "ms", 1, lambda: tick_cost(due, T0 + 1000))
    return report(
        f"timers: {args.executions:,} executions tracked",
        [none_due_big, none_due_small, some_due],
        {"executions": args.executions, "due": args.due, "target_ms_none_due": 1.0, "met": none_due_big.median < 1.0},
    )


if __name__ == "__main__":
    main()
