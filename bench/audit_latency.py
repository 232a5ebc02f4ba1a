"""How long `exec-watchdog audit` takes on a store holding a million executions.

    python bench/audit_latency.py [--executions 1000000] [--url sqlite:///bench-audit.db]

Fills the store with decision records (two per execution: started, and a recovery for one in ten),
then times the audit of random executions. Prints a table and a JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from exec_watchdog.adapters.audit_store import DecisionRow, insert_decisions
from exec_watchdog.adapters.store import Store
from exec_watchdog.audit.view import render, timeline


def fill(store: Store, executions: int) -> None:
    batch: list[DecisionRow] = []
    started = json.dumps({"type": "execution.started"})
    for n in range(executions):
        x = f"exec-{n:07d}"
        batch.append(
            DecisionRow(
                n % 6,
                "executions.lifecycle",
                n,
                x,
                f"e-{n}",
                "execution.started",
                started,
                None,
                "running",
                "0123456789abcdef",
                "[]",
                1_796_000_000_000_000 + n,
            )
        )
        if n % 10 == 0:
            out = json.dumps([{"type": "transition", "from": "running", "to": "suspected", "cause": "silence"}])
            batch.append(
                DecisionRow(
                    n % 6,
                    "watchdog.control",
                    n,
                    x,
                    f"t-{n}",
                    "watchdog.tick",
                    "{}",
                    "running",
                    "suspected",
                    "0123456789abcdef",
                    out,
                    1_796_000_090_000_000 + n,
                )
            )
        if len(batch) >= 20_000:
            with store.engine.begin() as conn:
                insert_decisions(conn, "bench", "executions.lifecycle", batch)
            batch = []
    with store.engine.begin() as conn:
        insert_decisions(conn, "bench", "executions.lifecycle", batch)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--url", default=None)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    url = args.url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench-audit.db'}"
    store = Store(url, group_id="bench")
    t0 = time.perf_counter()
    fill(store, args.executions)
    filled_s = time.perf_counter() - t0
    rng = random.Random(7)
    timings = []
    for _ in range(args.samples):
        x = f"exec-{rng.randrange(args.executions):07d}"
        t = time.perf_counter()
        found = timeline(store, x)
        assert found is not None
        render(found)
        timings.append(time.perf_counter() - t)
    timings.sort()
    result = {
        "executions": args.executions,
        "fill_s": round(filled_s, 1),
        "samples": args.samples,
        "median_ms": round(statistics.median(timings) * 1000, 2),
        "p99_ms": round(timings[int(len(timings) * 0.99) - 1] * 1000, 2),
        "max_ms": round(timings[-1] * 1000, 2),
    }
    print(f"{'executions':>12} {'median ms':>10} {'p99 ms':>8} {'max ms':>8}")
    print(f"{args.executions:>12} {result['median_ms']:>10} {result['p99_ms']:>8} {result['max_ms']:>8}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
