"""The audit lane: decision records onto the audit topic, in batches, on their own.

Each partition's decisions are read from the store after a cursor (the last decision the broker has),
sent together, and the cursor moves once the broker has them all: at least once, in order, never lost
(a crash between the send and the cursor's move sends the batch again; a record's id is its source
position, so a reader can tell a repeat). The effect runner never sees these records, so a burst of
starts cannot queue ahead of a probe, a terminate or a recovery event.

The lane also gives way. While partitions are being restored (`restoring`) it waits: a restore is
bounded, and readiness after a restart waits for it. While other work that matters more is under way
(`busy`: effects being carried out, a backlog of input being read) it waits before each batch, at
most `GIVE_WAY_S`, so a backlog of millions still drains at a steady floor rate. Its records are read
and packed into Kafka record batches in worker threads (`BatchPacker`); the event loop only hands
whole batches to the producer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from consumers.outbox_items import decision_json
from exec_watchdog.adapters.audit_store import AuditStore, DecisionRow
from producers.batch_packer import BatchPacker, Packed
from producers.publisher import Publisher

log = logging.getLogger(__name__)
BATCH = 2000
"""Decisions read and sent per partition and round."""
PAUSE_S = 0.02
"""Between two partitions' batches: the loop's other work goes first."""
GIVE_WAY_S = 1.0
"""The longest the lane waits before a batch while `busy` says so."""


class AuditLane:
    def __init__(
        self,
        audit: AuditStore,
        publisher: Publisher,
        *,
        topic: str,
        owned: Callable[[], list[int]],
        busy: Callable[[], bool] = lambda: False,
        restoring: Callable[[], bool] = lambda: False,
    ) -> None:
        self.audit = audit
        self.publisher = publisher
        self.topic = topic
        """The lifecycle topic: decisions are filed under it."""
        self.owned = owned
        self.busy = busy
        self.restoring = restoring
        self.wake = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=0.5)
            self.wake.clear()
            try:
                while await self.publish_once() == BATCH and not stop.is_set():
                    pass  # a backlog: keep going without waiting for a wake-up
            except Exception:  # the broker or the store is away: the cursor stays, try again shortly
                log.exception("audit lane round failed; retrying")
                await asyncio.sleep(1.0)

    async def publish_once(self) -> int:
        """One batch per owned partition; the largest batch sent (BATCH: there is more). The records are
        read and packed in worker threads, and the lane pauses between partitions (and gives way, see
        above): a backlog of millions drains steadily without taking the event loop from the effects
        and the consumer."""
        largest = 0
        packer: BatchPacker | None = None
        for partition in self.owned():
            while self.restoring():
                await asyncio.sleep(0.05)
            rows = await asyncio.to_thread(self.audit.unpublished, self.topic, partition, BATCH)
            if not rows:
                continue
            await self._give_way()
            packer = packer or await self.publisher.packer(self.publisher.audit_topic)
            await self.publisher.send_packed(await asyncio.to_thread(_packed, packer, rows))
            await asyncio.to_thread(self.audit.mark_published, self.topic, partition, rows[-1][0])
            largest = max(largest, len(rows))
            await asyncio.sleep(PAUSE_S)
        return largest

    async def _give_way(self) -> None:
        until = time.monotonic() + GIVE_WAY_S
        while self.busy() and time.monotonic() < until:
            await asyncio.sleep(0.05)


def _packed(packer: BatchPacker, rows: list[tuple[int, DecisionRow]]) -> Packed:
    return packer.pack((r.execution_id.encode(), decision_json(r).encode()) for _, r in rows)
