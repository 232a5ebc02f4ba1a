"""The webhook sink (contract §5b): every recovery event POSTed as JSON, signed, retried with backoff.

It runs beside the effect runner, never inside it: it claims its own outbox rows (kind `webhook`,
which the effect runner never claims) into a bounded in-memory queue, so a slow or dead receiver
delays nothing but its own deliveries. A row is marked done with `delivered` or, after
`max_attempts`, `gave_up`; both are visible in `audit`. A redelivery after a crash carries the same `event_id`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import time
from collections.abc import Callable

import httpx

from exec_watchdog.adapters.store import OutboxRow, Store
from exec_watchdog.telemetry.metrics import Metrics

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Watchdog-Signature"


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSink:
    def __init__(
        self,
        url: str,
        store: Store,
        metrics: Metrics,
        *,
        owner: str,
        owned: Callable[[], list[int]],
        secret: str | None = None,
        timeout_s: float = 5.0,
        max_attempts: int = 8,
        backoff_s: float = 0.5,
        backoff_max_s: float = 60.0,
        queue_size: int = 1000,
        concurrency: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.store = store
        self.metrics = metrics
        self.owner = owner
        self.owned = owned
        self.secret = secret
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.queue: asyncio.Queue[OutboxRow] = asyncio.Queue(maxsize=queue_size)
        self.concurrency = concurrency
        self._queued: set[str] = set()
        self._ended_since_claim: set[str] = set()
        """Deliveries that ended while a claim was being read: the claim may return them as pending."""
        self._client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False, transport=transport)

    async def run(self, stop: asyncio.Event) -> None:
        workers = [asyncio.create_task(self._deliver_loop(stop)) for _ in range(self.concurrency)]
        try:
            while not stop.is_set():
                room = self.queue.maxsize - self.queue.qsize()
                if room > 0:
                    try:
                        self._ended_since_claim = set()
                        rows = await asyncio.to_thread(self.store.claim, self.owned(), self.owner, room, webhooks=True)
                        self.offer([r for r in rows if r.id not in self._ended_since_claim])
                    except Exception:  # the store is away: deliveries wait, nothing else does
                        log.exception("webhook feeder round failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=0.5)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await self._client.aclose()

    def offer(self, rows: list[OutboxRow]) -> None:
        """Queue deliveries without ever waiting: what does not fit stays in the outbox for later."""
        for row in rows:
            if row.id in self._queued:
                continue
            try:
                self.queue.put_nowait(row)
            except asyncio.QueueFull:
                self.metrics.webhook.labels("deferred").inc()
                return
            self._queued.add(row.id)

    async def _deliver_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            row = await self.queue.get()
            try:
                outcome = await self._deliver(row, stop)
                if outcome is not None:
                    await asyncio.to_thread(self.store.record_outcome, row.id, outcome, time.time_ns() // 1000)
                    await asyncio.to_thread(self.store.mark_done, [row.id])
            finally:
                self._queued.discard(row.id)
                self._ended_since_claim.add(row.id)
                self.queue.task_done()

    async def _deliver(self, row: OutboxRow, stop: asyncio.Event) -> str | None:
        body = row.payload.encode()
        headers = {"Content-Type": "application/json"}
        if self.secret is not None:
            headers[SIGNATURE_HEADER] = signature(self.secret, body)
        for attempt in range(self.max_attempts):
            if stop.is_set():
                return None  # not delivered: the row stays pending and is offered again after a restart
            try:
                response = await self._client.post(self.url, content=body, headers=headers)
                if 200 <= response.status_code < 300:
                    self.metrics.webhook.labels("delivered").inc()
                    return "delivered"
                self.metrics.webhook.labels(f"http_{response.status_code // 100}xx").inc()
            except httpx.HTTPError as error:
                self.metrics.webhook.labels(type(error).__name__).inc()
            delay = min(self.backoff_s * 2**attempt, self.backoff_max_s) * random.uniform(0.5, 1.5)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
        log.warning(
            "webhook delivery of %s gave up after %d attempts",
            row.execution_id,
            self.max_attempts,
            extra={"execution_id": row.execution_id, "action": "webhook"},
        )
        self.metrics.webhook.labels("gave_up").inc()
        return "gave_up"
