"""Fast hand-over: two `exec-watchdog run` on one PostgreSQL store, and kill -9 of one of them.

    python -m bench.failover [--executions 300000] [--rate 2000] [--broker apache]

Both instances run as their own processes (6 partitions, three each) with `--executions` tracked.
Heartbeats flow at `--rate` per second for `--flow-s` seconds. Then one instance is killed with SIGKILL:
- moved partitions deciding again: from the kill until the store says every partition the dead
  instance owned has applied everything written before the kill. Target: KAFKA_SESSION_TIMEOUT_S
  (the broker notices the death) + 10 s.
- partitions the survivor already owned: how many it kept through the rebalance (not restored),
  and how long its own partitions went without applying anything new. Target: all kept.
Needs the PostgreSQL server of `tests/services/start.sh` (127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
import uuid

from sqlalchemy import create_engine, select

from bench.outside import RunProcess, Topics
from bench.report import Figure, column, report
from bench.scale import PARTITIONS, broker, broker_options, ends, flow, write
from bench.service_run import create_topic
from exec_watchdog.adapters.store_tables import partition_state

SESSION_TIMEOUT_S = 6.0
SETTINGS = {
    "heartbeat_timeout_s": 3600,
    "tick_interval_s": 1,
    "snapshot_interval_s": 1,
    "brake_enabled": False,
    "kafka_session_timeout_s": SESSION_TIMEOUT_S,
    "agent_url_template": "http://127.0.0.1:9/{agent_name}",
}


def stored(run: RunProcess) -> dict[int, int]:
    """Each partition's applied lifecycle position, as the store has it."""
    engine = create_engine(run.database_url)
    try:
        with engine.connect() as conn:
            c = partition_state.c
            rows = conn.execute(
                select(c.partition, c.lifecycle_offset).where(
                    c.group_id == f"wd-{run.topics.tag}", c.topic == run.topics.lifecycle
                )
            )
            return {int(p): int(o) for p, o in rows}
    finally:
        engine.dispose()


def owned_by(run: RunProcess) -> set[int]:
    """The partitions an instance restored or kept last, from its log."""
    owned: set[int] = set()
    for line in run.log().splitlines():
        if '"partition ' in line and ("restored:" in line or "kept" in line):
            owned.add(int(line.split('"partition ', 1)[1].split(" ", 1)[0]))
    return owned


async def one_run(bootstrap: str, url: str, executions: int, rate: int, flow_s: float) -> dict[str, float]:
    topics = Topics(f"lifecycle-{uuid.uuid4().hex[:6]}")
    await create_topic(bootstrap, topics.lifecycle, PARTITIONS)
    first = RunProcess(bootstrap, topics, url, **SETTINGS)
    first.start()
    first.wait_ready(timeout_s=120)
    written = await write(bootstrap, topics.lifecycle, "started", range(executions))
    first.wait_stored(written)
    second = RunProcess(bootstrap, topics, url, **SETTINGS)
    second.start()
    second.wait_ready(timeout_s=300)
    while len(owned_by(second)) != PARTITIONS // 2:  # the group has settled: three partitions each
        await asyncio.sleep(0.2)
    survivor_log_at = len(second.log())
    flowing = asyncio.create_task(flow(bootstrap, topics.lifecycle, executions, rate, flow_s))
    await asyncio.sleep(5)
    moved = {p for p in range(PARTITIONS) if p not in owned_by(second)}
    at_kill = {tp.partition: offset for tp, offset in (await ends(bootstrap, topics.lifecycle)).items()}
    killed = time.monotonic()
    assert first.process is not None
    first.process.send_signal(signal.SIGKILL)
    first.process.wait()
    mine = set(range(PARTITIONS)) - moved
    own_stalled, last_own, moved_s = 0.0, stored(second), float("inf")
    last_change = {p: killed for p in mine}
    while time.monotonic() - killed < 120:
        now, positions = time.monotonic(), stored(second)
        for p in mine:
            if positions.get(p) != last_own.get(p):
                own_stalled = max(own_stalled, now - last_change[p])
                last_change[p] = now
        last_own = positions
        if all(positions.get(p, 0) >= at_kill[p] for p in moved):
            moved_s = now - killed
            break
        await asyncio.sleep(0.1)
    await flowing
    log = second.log()[survivor_log_at:]
    kept = sum(1 for p in mine if f'"partition {p} kept' in log)
    second.stop()
    return {"moved_s": moved_s, "kept": kept, "own_stalled_s": own_stalled, "mine": len(mine)}


async def run(
    executions: int, rate: int, runs: int, kind: str, given: str | None = None, flow_s: float = 60
) -> dict[str, object]:
    from tests.services.postgres import fresh_schema  # the tests' PostgreSQL schema per run

    outcomes = []
    with broker(kind, given) as bootstrap:
        for _ in range(runs):
            with fresh_schema("bench") as url:
                outcomes.append(await one_run(bootstrap, url, executions, rate, flow_s))

    def figure(name: str, unit: str, key: str) -> Figure:
        return column(outcomes, name, unit, key)

    figures = [
        figure("kill -9 to the moved partitions deciding again", "s", "moved_s"),
        figure("the survivor's own partitions kept through the rebalance", "partitions", "kept"),
        figure("longest pause of the survivor's own partitions", "s", "own_stalled_s"),
    ]
    met = figures[0].median <= SESSION_TIMEOUT_S + 10 and all(o["kept"] == o["mine"] for o in outcomes)
    title = f"failover: {executions:,} executions, two instances on PostgreSQL, one killed ({kind})"
    return report(title, figures, {"bound_s": SESSION_TIMEOUT_S + 10, "met": met})


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=300_000)
    parser.add_argument("--rate", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=1)
    broker_options(parser, default="apache")
    parser.add_argument("--flow-s", type=float, default=60, help="how long heartbeats flow (the kill is at 5 s)")
    args = parser.parse_args(argv)
    return asyncio.run(run(args.executions, args.rate, args.runs, args.broker, args.bootstrap, args.flow_s))


if __name__ == "__main__":
    main()
