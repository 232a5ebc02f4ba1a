"""What `status` costs at scale: building an instance's document, and the command reading it.

    python -m bench.status [--tracked 1000000] [--notable 1000] [--runs 5]

Builds engines holding `--tracked` executions over 6 partitions, `--notable` of them suspected, and
measures (medians, min-max) building the status document as the service does every
SNAPSHOT_INTERVAL_S, and `exec-watchdog status` reading and rendering it from a SQLite store. The
same at a hundredth of the tracked executions shows what grows with them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.report import Figure, measure, report
from exec_watchdog.adapters.store import Store
from exec_watchdog.telemetry.status import StatusBoard, instance_status
from schemas.fields import State
from statemachine.engine import Engine
from statemachine.policy import Policy
from statemachine.record import ExecutionRecord

T0 = 1_800_000_000_000_000


def engines(tracked: int, notable: int) -> dict[int, Engine]:
    policy = Policy()
    parts: dict[int, list[ExecutionRecord]] = {p: [] for p in range(6)}
    for n in range(tracked):
        state = State.SUSPECTED if n < notable else State.RUNNING
        record = ExecutionRecord(f"x-{n}", f"bot-{n % 50}", state, T0, T0, T0, next_probe_at=T0 + 10**9)
        parts[n % 6].append(record)
    return {p: Engine(policy, records, clock=T0) for p, records in parts.items()}


def run(tracked: int, notable: int, runs: int) -> list[Figure]:
    owned = engines(tracked, notable)
    board = StatusBoard()

    def build_once() -> float:
        return _timed(lambda: instance_status("i", "g", owned, board, {}))

    build = measure(f"build the document, {tracked:,} tracked", "ms", runs, build_once)
    document = instance_status("i", "g", owned, board, {}).model_dump_json()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'w.db'}"
        store = Store(url, "g")
        store.status.save("i", time.time_ns() // 1000, document)
        store.close()
        command = [sys.executable, "-m", "exec_watchdog", "status"]
        env = {"WATCHDOG_DATABASE_URL": url, "WATCHDOG_GROUP_ID": "g", "PATH": "/usr/bin:/bin"}
        read = measure(
            f"`exec-watchdog status`, {tracked:,} tracked", "ms", runs, lambda: _timed(lambda: _status(command, env))
        )
    return [build, read]


def _status(command: list[str], env: dict[str, str]) -> None:
    subprocess.run(command, env=env, check=True, capture_output=True)


def _timed(once: Callable[[], object]) -> float:
    started = time.perf_counter()
    once()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tracked", type=int, default=1_000_000)
    parser.add_argument("--notable", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    figures = run(args.tracked // 100, args.notable, args.runs) + run(args.tracked, args.notable, args.runs)
    report("status at scale", figures, {"notable": args.notable})


if __name__ == "__main__":
    main()
