"""A fleet with a known truth, for fault injection: who is healthy, who is an orphan, who hangs."""

from __future__ import annotations

import asyncio
import os
import random
import time
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer

from exec_watchdog.demo.standin_fleet import StandinFleet
from tests.runtime.harness import lifecycle

LONG = os.environ.get("RELIABILITY_LONG") == "1"


@dataclass
class Truth:
    healthy: set[str] = field(default_factory=set)
    orphans: set[str] = field(default_factory=set)
    hung: set[str] = field(default_factory=set)

    def expected(self) -> set[tuple[str, str]]:
        return {(x, "orphan_recovered") for x in self.orphans} | {(x, "auto_terminated") for x in self.hung}


@dataclass
class Fleet:
    """Executions spread over a few agents; orphans are forgotten by their agent, the hung never end."""

    fleet: StandinFleet
    size: int
    seed: int = 11
    truth: Truth = field(default_factory=Truth)
    ends: dict[str, float] = field(default_factory=dict)
    agents: dict[str, str] = field(default_factory=dict)

    def cast(self) -> None:
        rng = random.Random(self.seed)
        for n in range(self.size):
            x, agent = f"e{n:05d}", f"bot-{n % 7}"
            self.agents[x] = agent
            roll = rng.random()
            if roll < 0.08:
                self.truth.orphans.add(x)
            elif roll < 0.12:
                self.truth.hung.add(x)
                self.fleet.start_execution(agent, x)
            else:
                self.truth.healthy.add(x)
                self.fleet.start_execution(agent, x)
                self.ends[x] = rng.uniform(3, 12)

    async def play(self, producer: AIOKafkaProducer, topic: str, seconds: float, stop: asyncio.Event) -> None:
        started = time.monotonic()
        for x, agent in self.agents.items():
            extra = {"timeout_seconds": 4} if x in self.truth.hung else {}
            await producer.send(topic, lifecycle("started", x, agent, -3, **extra), key=x.encode())
        await producer.flush()
        live = set(self.truth.healthy) | set(self.truth.hung)
        while not stop.is_set() and time.monotonic() - started < seconds:
            elapsed = time.monotonic() - started
            for x in sorted(live):
                if x in self.ends and elapsed >= self.ends[x]:
                    live.discard(x)
                    self.fleet.finish(self.agents[x], x)
                    await producer.send(topic, lifecycle("completed", x, self.agents[x]), key=x.encode())
                else:
                    await producer.send(topic, lifecycle("heartbeat", x, self.agents[x]), key=x.encode())
            # No flush: like a platform, it keeps producing (buffered) while the broker is unavailable.
            await asyncio.sleep(0.5)
