"""Replay: inputs re-applied per second by the replay path (merge, parse, decide, decision records).

    python -m bench.replay_speed [--executions 20000] [--runs 3]

Target: at least 100,000 inputs/s. The logs are built in memory (one `started` and nine heartbeats
per execution, with ticks), so the figure is the re-application itself, not the broker's read rate.
"""

from __future__ import annotations

import argparse
import json
import time

from bench.history import lifecycle_records
from bench.report import measure, report
from consumers.decision_records import decision_rows
from consumers.partition import PartitionState
from exec_watchdog.service.collector import tune_for_long_lived_state
from schemas.log_records import LogRecord
from statemachine import Engine, Policy
from statemachine.timestamps import iso

T0 = 1_796_000_000_000_000


def logs(executions: int) -> tuple[list[LogRecord], list[LogRecord]]:
    lifecycle = [
        LogRecord(offset, key, value)
        for offset, (key, value) in enumerate(lifecycle_records(executions, T0, 10_000_000))
    ]
    control = []
    per_tick = max(1, len(lifecycle) // 100)
    for t in range(100):
        now = iso(T0 + t * 1_000_000)
        tick = json.dumps({"schema_version": 1, "type": "watchdog.tick", "now": now}).encode()
        control.append(LogRecord(t, None, tick, (("through", str((t + 1) * per_tick).encode()),)))
    return lifecycle, control


def replay_rate(lifecycle: list[LogRecord], control: list[LogRecord]) -> float:
    state = PartitionState(
        0, Engine(Policy(brake_enabled=False)), lifecycle_topic="l", control_topic="c", keep_quiet=False
    )
    started = time.perf_counter()
    state.add_lifecycle(lifecycle, fetched_to=len(lifecycle))
    state.add_control(control)
    drained = state.drain()
    decision_rows(drained.applied, 0, "digest")
    elapsed = time.perf_counter() - started
    return (len(drained.applied) + drained.quiet) / elapsed


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    lifecycle, control = logs(args.executions)
    tune_for_long_lived_state()  # as `exec-watchdog replay` does
    figure = measure("inputs re-applied per second", "inputs/s", args.runs, lambda: replay_rate(lifecycle, control))
    return report(
        f"replay: {len(lifecycle) + len(control):,} inputs",
        [figure],
        {"target_inputs_per_s": 100_000, "met": figure.median >= 100_000},
    )


if __name__ == "__main__":
    main()
