"""The audit lane: decision records onto the audit topic, in batches, on their own.

Each partition's decisions are read from the store after a cursor (the last decision the broker has),
sent together, and the cursor moves once the broker has them all: at least once, in order, never lost
(a crash between the send and the cursor's move sends the batch again; a record's id is its source
position, so a reader can tell a repeat). The effect runner never sees these records, so a burst of
starts cannot queue ahead of a probe, a terminate or a recovery event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from consumers.outbox_items import decision_json
from exec_watchdog.adapters.audit_store import AuditStore
from producers.publisher import Publisher, RecordKind

log = logging.getLogger(__name__)
BATCH = 2000
"""Decisions read and sent per partition and round."""
PAUSE_S = 0.02
"""Between two partitions' batches: the loop's other work goes first."""


class AuditLane:
    def __init__(self, audit: AuditStore, publisher: Publisher, *, topic: str, owned: Callable[[], list[int]]) -> None:
        self.audit = audit
        self.publisher = publisher
        self.topic = topic
        """The lifecycle topic: decisions are filed under it."""
        self.owned = owned
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
        read and rendered in a worker thread, and the lane pauses between partitions: a backlog of
        millions drains steadily without taking the event loop from the effects and the consumer."""
        largest = 0
        for partition in self.owned():
            batch = await asyncio.to_thread(self._rendered, partition)
            if batch is None:
                continue
            last_id, records = batch
            await self.publisher.records(records)
            await asyncio.to_thread(self.audit.mark_published, self.topic, partition, last_id)
            largest = max(largest, len(records))
            await asyncio.sleep(PAUSE_S)
        return largest

    def _rendered(self, partition: int) -> tuple[int, list[tuple[RecordKind, str, str]]] | None:
        rows = self.audit.unpublished(self.topic, partition, BATCH)
        if not rows:
            return None
        return rows[-1][0], [("audit", decision_json(r), r.execution_id) for _, r in rows]
