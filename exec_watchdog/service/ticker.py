"""Timers on Kafka: every TICK_INTERVAL_S, one tick per owned partition into its control log, and
one more when a partition's next deadline falls due in between (at most every `DEADLINE_GAP_S` per
partition), so a silent execution is suspected when its time is up, not up to a tick later.

A tick's `now` is the wall clock read *before* asking the broker for the lifecycle end offsets, and
it carries those offsets (or what the consumer has already read, if more) as `through`: it is
applied only after every lifecycle record written
before `now` has been applied. If the broker cannot be reached, no tick is written and time stops;
if the consumer lags, the tick waits for it. Silence is never inferred from records sitting unread.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from exec_watchdog.telemetry.metrics import Metrics
from producers.publisher import Publisher
from schemas.inputs import Tick
from statemachine.timestamps import from_micros

log = logging.getLogger(__name__)
DEADLINE_GAP_S = 0.1
"""The shortest time between two ticks of one partition."""


class Ticker:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        publisher: Publisher,
        metrics: Metrics,
        *,
        lifecycle_topic: str,
        interval_s: float,
        owned: Callable[[], list[int]],
        next_deadline: Callable[[int], int | None] = lambda partition: None,
    ) -> None:
        self.consumer = consumer
        self.publisher = publisher
        self.metrics = metrics
        self.lifecycle_topic = lifecycle_topic
        self.interval_s = interval_s
        self.owned = owned
        self.next_deadline = next_deadline
        """A partition's earliest deadline (event time, microseconds): its engine's, read in place."""
        self.gap_s = min(DEADLINE_GAP_S, interval_s)
        self._ticked: dict[int, float] = {}
        """When each partition was last ticked (monotonic)."""

    async def run(self, stop: asyncio.Event) -> None:
        """Tick on a fixed cadence (the time a tick takes to write does not stretch the interval), and
        in between for partitions whose next deadline has come."""
        due = time.monotonic() + self.interval_s
        while not stop.is_set():
            try:
                wake = min(due, self._next_wake(), time.monotonic() + self.gap_s)  # new deadlines are seen
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, wake - time.monotonic()))
                return
            except TimeoutError:
                pass
            if time.monotonic() < due:
                due_now = self._deadlines_due()
                if due_now:
                    await self.tick_once(due_now)
                continue
            due += self.interval_s
            if due <= time.monotonic():  # after a stall the cadence restarts: no burst of ticks to catch up
                due = time.monotonic() + self.interval_s
            await self.tick_once()

    def _next_wake(self) -> float:
        """When to look at the deadlines again: the earliest time a partition may be ticked for one."""
        return min(self._deadline_ticks().values(), default=math.inf)

    def _deadlines_due(self) -> list[int]:
        ticks = self._deadline_ticks()
        now = time.monotonic()  # read after: a deadline already past is due at the moment it was looked at
        return [partition for partition, at in ticks.items() if at <= now]

    def _deadline_ticks(self) -> dict[int, float]:
        """Per owned partition with a deadline, when (monotonic) it may be ticked for it: at the deadline,
        and no sooner than `gap_s` after its last tick."""
        now, wall_us = time.monotonic(), time.time_ns() // 1000
        ticks = {}
        for partition in self.owned():
            deadline = self.next_deadline(partition)
            if deadline is not None:
                at = now + max(0.0, (deadline - wall_us) / 1e6)
                ticks[partition] = max(at, self._ticked.get(partition, -math.inf) + self.gap_s)
        return ticks

    async def _fetched(self, tp: TopicPartition) -> int:
        """What this consumer has already read. Tansu (the demo's broker) answers end offsets that can
        trail the true end by a batch; Apache Kafka's are exact, so there this never exceeds them. Vouching
        for records already fetched keeps a quiet topic's last batch from waiting forever on Tansu
        (records written just after `now` are fresher evidence, never staler)."""
        try:
            return int(await self.consumer.position(tp))
        except Exception:  # not assigned any more: nothing read to vouch for
            return 0

    async def tick_once(self, partitions: list[int] | None = None) -> None:
        """One tick for each of `partitions` (every owned partition when None)."""
        partitions = self.owned() if partitions is None else partitions
        if not partitions:
            return
        sent = time.monotonic()
        for partition in partitions:
            self._ticked[partition] = sent
        started = time.perf_counter()
        now = time.time_ns() // 1000
        tps = [TopicPartition(self.lifecycle_topic, p) for p in partitions]
        try:
            ends = await self.consumer.end_offsets(tps)
            tick = Tick(schema_version=1, type="watchdog.tick", now=from_micros(now))
            throughs = {tp: max(ends[tp], await self._fetched(tp)) for tp in tps}
            await asyncio.gather(*(self.publisher.control(tick, tp.partition, through=throughs[tp]) for tp in tps))
        except KafkaError as error:
            log.warning("no tick this round (time stands still until the broker answers): %s", error)
            return
        self.metrics.tick_seconds.observe(time.perf_counter() - started)
