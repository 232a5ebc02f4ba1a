"""Replay: inputs re-applied per second by the replay path (merge, parse, decide, decision records).

    python -m bench.replay_speed [--executions 20000] [--runs 3]

Target: at least 100,000 inputs/s. The logs are built in memory (one `started` and nine heartbeats
per execution, with ticks), so the figure is the re-application itself, not the broker's read rate.
"""

from __future__ import annotations

import argparse
import json
import time

from bench.report import measure, report
from consumers.decision_records import decision_rows
from consumers.partition import LogRecord, PartitionState
from statemachine import Engine, Policy
from statemachine.timestamps import iso

T0 = 1_796_000_000_000_000


def logs(executions: int) -> tuple[list[LogRecord], list[LogRecord]]:
    lifecycle: list[LogRecord] = []
    for beat in range(10):
        for n in range(executions):
            kind = "started" if beat == 0 else "heartbeat"
            body = {
                "schema_version": 1,
                "event_id": f"e{n}-{beat}",
                "type": f"execution.{kind}",
                "execution_id": f"exec-{n:07d}",
                "agent_name": f"bot-{n % 50}",
                "occurred_at": iso(T0 + beat * 10_000_000 + n),
            }
            lifecycle.append(LogRecord(len(lifecycle), None, json.dumps(body).encode()))
    control = []
    per_tick = max(1, len(lifecycle) // 100)
    for t in range(100):
        now = iso(T0 + t * 1_000_000)
        tick = json.dumps({"schema_version": 1, "type": "watchdog.tick", "now": now}).encode()
        control.append(LogRecord(t, None, tick, (("through", str((t + 1) * per_tick).encode()),)))
    return lifecycle, control


def replay_rate(lifecycle: list[LogRecord], control: list[LogRecord]) -> float:
    state = PartitionState(0, Engine(Policy(brake_enabled=False)), lifecycle_topic="l", control_topic="c")
    started = time.perf_counter()
    state.add_lifecycle(lifecycle, fetched_to=len(lifecycle))
    state.add_control(control)
    applied = state.drain().applied
    decision_rows(applied, 0, "digest")
    elapsed = time.perf_counter() - started
    return len(applied) / elapsed


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    lifecycle, control = logs(args.executions)
    figure = measure("inputs re-applied per second", "inputs/s", args.runs, lambda: replay_rate(lifecycle, control))
    return report(
        f"replay: {len(lifecycle) + len(control):,} inputs",
        [figure],
        {"target_inputs_per_s": 100_000, "met": figure.median >= 100_000},
    )


if __name__ == "__main__":
    main()
