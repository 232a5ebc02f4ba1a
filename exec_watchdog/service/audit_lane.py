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
from producers.publisher import Publisher

log = logging.getLogger(__name__)
BATCH = 5000
"""Decisions read and sent per partition and round."""


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
        """One batch per owned partition; the largest batch sent (BATCH: there is more)."""
        largest = 0
        for partition in self.owned():
            rows = await asyncio.to_thread(self.audit.unpublished, self.topic, partition, BATCH)
            if not rows:
                continue
            await self.publisher.records([("audit", decision_json(r), r.execution_id) for _, r in rows])
            await asyncio.to_thread(self.audit.mark_published, self.topic, partition, rows[-1][0])
            largest = max(largest, len(rows))
        return largest
