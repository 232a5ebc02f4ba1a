"""Memory: resident bytes per tracked execution, through the real input path (started + heartbeats).

    python -m bench.memory [--executions 1000000]

Target: at most 1 KB per execution at 1,000,000. Measured in a fresh process, RSS before and after.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys

from bench.report import Figure, report

PROBE = """
import gc, json, sys
from statemachine import Engine, Policy
from schemas import parse_input

def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * 4096

n = int(sys.argv[1])
engine = Engine(Policy(brake_enabled=False))
template = ('{"schema_version":1,"event_id":"e-%d-%s","type":"execution.%s","execution_id":"exec-%07d",'
            '"agent_name":"bot-%d","occurred_at":"2026-11-28T21:%02d:%02dZ"}')
gc.collect()
before = rss()
for i in range(n):
    engine.apply(parse_input(template % (i, "s", "started", i, i % 50, 0, 0)))
for i in range(n):
    engine.apply(parse_input(template % (i, "h", "heartbeat", i, i % 50, 0, 30)))
gc.collect()
print(json.dumps({"executions": len(engine.records), "bytes": rss() - before}))
"""


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    per_execution = []
    for _ in range(args.runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE, str(args.executions)], capture_output=True, text=True, check=True
        )
        result = json.loads(out.stdout)
        per_execution.append(result["bytes"] / result["executions"])
        gc.collect()
    figure = Figure("resident bytes per tracked execution", "B", per_execution)
    return report(
        f"memory: {args.executions:,} executions",
        [figure],
        {"executions": args.executions, "target_bytes": 1024, "met": figure.median <= 1024},
    )


if __name__ == "__main__":
    main()
