"""The demo's fleet and story: about twenty executions that show every kind of recovery.

- 14 healthy executions on research-bot and report-bot: heartbeats, progress, then completion;
- 1 hung execution on etl-bot: alive but past its 15 s timeout (auto-terminated);
- 2 orphans on research-bot: their processes vanish and the agent forgets them;
- 3 executions on flaky-bot, whose agent stops answering (reported, never killed).
Everything is scripted from a seeded random generator, so every demo tells the same story.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer

from exec_watchdog.demo.standin_fleet import StandinFleet
from statemachine.timestamps import iso


@dataclass(frozen=True)
class Role:
    execution_id: str
    agent: str
    kind: str  # healthy, hung, orphan, unreachable
    ends_at_s: float | None = None
    timeout_s: float | None = None


def cast(seed: int = 7) -> list[Role]:
    rng = random.Random(seed)
    roles = [
        Role(f"run-{n:02d}", rng.choice(["research-bot", "report-bot"]), "healthy", ends_at_s=rng.uniform(8, 28))
        for n in range(14)
    ]
    roles.append(Role("hung-etl-01", "etl-bot", "hung", timeout_s=15))
    roles += [Role(f"orphan-{n:02d}", "research-bot", "orphan", ends_at_s=4 + 2 * n) for n in range(2)]
    roles += [Role(f"far-{n:02d}", "flaky-bot", "unreachable") for n in range(3)]
    return roles


def plan(roles: list[Role]) -> list[str]:
    """What is about to happen, told before it does."""
    healthy = [r for r in roles if r.kind == "healthy"]
    hung = [r for r in roles if r.kind == "hung"]
    orphans = [r for r in roles if r.kind == "orphan"]
    far = [r for r in roles if r.kind == "unreachable"]
    return [
        "what is about to happen:",
        f"  {len(healthy)} healthy executions beat, make progress and complete within "
        f"{max(r.ends_at_s or 0 for r in healthy):.0f} s: nothing is done to them;",
        *(
            f"  {r.execution_id} on {r.agent} keeps beating past its {r.timeout_s:.0f} s limit: "
            "idle_detected, then terminated and marked failed (auto_terminated);"
            for r in hung
        ),
        *(
            f"  {r.execution_id} on {r.agent} vanishes at {r.ends_at_s:.0f} s and its agent forgets it: "
            "suspected, probed, confirmed an orphan, marked failed (orphan_recovered);"
            for r in orphans
        ),
        f"  {', '.join(r.execution_id for r in far)} on flaky-bot: the agent stops answering at 5 s; "
        "the watchdog says so (agent_unreachable) and never kills what it cannot see.",
    ]


def told(roles: list[Role], recoveries: list[dict[str, object]], completed: int) -> bool:
    """Every part of the story has happened: each hung, orphaned and unreachable role announced,
    every healthy one completed."""
    said = {(str(e["action"]), str(e["execution_id"])) for e in recoveries}
    agents = {str(e["agent_name"]) for e in recoveries if e["action"] == "agent_unreachable"}
    return (
        all(("auto_terminated", r.execution_id) in said for r in roles if r.kind == "hung")
        and all(("orphan_recovered", r.execution_id) in said for r in roles if r.kind == "orphan")
        and all(r.agent in agents for r in roles if r.kind == "unreachable")
        and completed >= sum(1 for r in roles if r.kind == "healthy")
    )


class Story:
    def __init__(self, fleet: StandinFleet, producer: AIOKafkaProducer, topic: str, roles: list[Role]) -> None:
        self.fleet = fleet
        self.producer = producer
        self.topic = topic
        self.roles = roles
        self.sent = 0

    async def play(self, stop: asyncio.Event) -> None:
        started = time.monotonic()
        live = {r.execution_id: r for r in self.roles}
        for role in self.roles:
            self.fleet.start_execution(role.agent, role.execution_id)
            extra = {} if role.timeout_s is None else {"timeout_seconds": role.timeout_s}
            await self._send("started", role, **extra)
        flaky_down = False
        while not stop.is_set():
            elapsed = time.monotonic() - started
            if not flaky_down and elapsed > 5:
                self.fleet.set_mode("flaky-bot", "down")  # the agent stops answering; its heartbeats stop
                flaky_down = True
            for x, role in list(live.items()):
                if role.kind == "unreachable" and flaky_down:
                    continue
                if role.ends_at_s is not None and elapsed >= role.ends_at_s:
                    del live[x]
                    if role.kind == "orphan":
                        self.fleet.forget(role.agent, x)  # the process vanished; nobody reports it
                    else:
                        self.fleet.finish(role.agent, x)
                        await self._send("completed", role)
                    continue
                await self._send("heartbeat", role)
                if role.kind == "healthy" and int(elapsed) % 5 == 0:
                    await self._send("activity", role)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)

    async def _send(self, kind: str, role: Role, **extra: object) -> None:
        body = {
            "schema_version": 1,
            "event_id": str(uuid.uuid4()),
            "type": f"execution.{kind}",
            "execution_id": role.execution_id,
            "agent_name": role.agent,
            "occurred_at": iso(time.time_ns() // 1000),
            **extra,
        }
        await self.producer.send_and_wait(self.topic, json.dumps(body).encode(), key=role.execution_id.encode())
        self.sent += 1
