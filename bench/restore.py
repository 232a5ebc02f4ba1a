"""Snapshots at scale: what an incremental snapshot costs the event loop, and how fast a partition restores.

    python -m bench.restore [--executions 1000000] [--changed 5000] [--runs 3]

One partition holding `--executions` running executions, in a fresh SQLite store:
- the first snapshot (every row) and an incremental one after `--changed` heartbeats: the part
  that runs on the event loop (collecting the changed rows) and the store write (in a thread in the
  service);
- a whole snapshot (one JSON document, what checkpoints keep) encoded, for comparison;
- a restore: the header and every row read from the store and decoded into an engine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from bench.report import Figure, column, report
from exec_watchdog.adapters import snapshots
from exec_watchdog.adapters.store import PartitionSnapshot, Store
from schemas.fields import State
from statemachine import Engine, Policy
from statemachine.record import ExecutionRecord

START_US = 1_796_000_000_000_000
T = TypeVar("T")


def engine_with(executions: int) -> Engine:
    records = (
        ExecutionRecord(f"exec-{n:07d}", f"bot-{n % 50}", State.RUNNING, START_US, START_US + n, START_US)
        for n in range(executions)
    )
    return Engine(Policy(brake_enabled=False), records, clock=START_US + executions)


def timed(work: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def one_run(executions: int, changed: int) -> dict[str, float]:
    store = Store(f"sqlite:///{Path(tempfile.mkdtemp()) / 'w.db'}", group_id="bench")
    engine = engine_with(executions)
    full_s, first = timed(lambda: snapshots.changes(engine))
    write_full_s, _ = timed(lambda: store.save("life", {0: PartitionSnapshot(1, 1, first.header, first)}, []))
    for n in range(0, executions, max(1, executions // changed)):
        engine.beat(f"exec-{n:07d}", START_US + executions + n, f"bot-{n % 50}", f"beat-{n}")
    delta_s, delta = timed(lambda: snapshots.changes(engine))
    write_delta_s, _ = timed(lambda: store.save("life", {0: PartitionSnapshot(2, 2, delta.header, delta)}, []))
    whole_s, _ = timed(lambda: snapshots.encode(engine))

    def restore() -> Engine:
        loaded = store.load_partition("life", 0)
        assert loaded is not None
        return snapshots.decode(loaded.snapshot, engine.policy, store.partition_rows("life", 0))

    restore_s, restored = timed(restore)
    assert len(restored.records) == executions
    store.close()
    return {
        "full_s": full_s,
        "write_full_s": write_full_s,
        "rows": len(delta.rows),
        "delta_ms": delta_s * 1000,
        "write_delta_ms": write_delta_s * 1000,
        "whole_s": whole_s,
        "restore_s": restore_s,
    }


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--changed", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    outcomes = [one_run(args.executions, args.changed) for _ in range(args.runs)]

    def figure(name: str, unit: str, key: str) -> Figure:
        return column(outcomes, name, unit, key)

    n = f"{args.executions:,}"
    figures = [
        figure(f"incremental snapshot, {int(outcomes[0]['rows']):,} changed: on the loop", "ms", "delta_ms"),
        figure("incremental snapshot: store write (a thread)", "ms", "write_delta_ms"),
        figure(f"whole snapshot of {n} encoded (the former way, on the loop)", "s", "whole_s"),
        figure(f"first snapshot, every row: on the loop ({n})", "s", "full_s"),
        figure("first snapshot: store write (a thread)", "s", "write_full_s"),
        figure(f"restore {n} from the store", "s", "restore_s"),
    ]
    return report(f"snapshots and restore: {n} executions in one partition", figures)


if __name__ == "__main__":
    main()
