"""The effect runner: executes outbox rows and feeds their results back into the log.

Probes of one agent are coalesced into one `GET /api/executions/running`. A terminate or mark_failed
row is marked `started` before it runs and its outcome is recorded in the ledger before the result
is published, so a restarted runner republishes results instead of executing again. A row found
`started` by a runner that did not start it was interrupted: a terminate is then settled by asking
the agent for the execution's status (terminated again only if it still runs), and a mark_failed is
repeated (the platform update is guarded, and recognises its own earlier write).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import replace
from typing import Any

from exec_watchdog.adapters.agent_api import AgentApi, Evidence, Known, LastError, Unreachable, enrich_error
from exec_watchdog.adapters.platform import Platform
from exec_watchdog.adapters.store import OutboxRow, Store
from exec_watchdog.adapters.trinity_redis import TrinityRedis
from exec_watchdog.service.effect_outcomes import (
    probe_outcome,
    seen_after_terminate,
    settled_before_resend,
    unconfirmed,
)
from exec_watchdog.telemetry.metrics import Metrics
from producers.publisher import Publisher
from schemas.inputs import CommandResult, ProbeResult
from statemachine.timestamps import from_micros

log = logging.getLogger(__name__)
STOP_GRACE_S = 3.0
"""On stop, how long effects already started may go on before they are cancelled."""
CONFIRM_EVERY_S = 0.5
"""How often the agent's running list is read while a terminate it acknowledged is confirmed."""


def _now_us() -> int:
    return time.time_ns() // 1000


class EffectRunner:
    def __init__(
        self,
        store: Store,
        publisher: Publisher,
        agents: AgentApi,
        platform: Platform,
        metrics: Metrics,
        *,
        owner: str,
        owned: Callable[[], list[int]],
        redis: TrinityRedis | None = None,
        terminate_grace_s: float = 15.0,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.agents = agents
        self.platform = platform
        self.metrics = metrics
        self.owner = owner
        self.owned = owned
        self.redis = redis
        self.terminate_grace_s = terminate_grace_s
        self.wake = asyncio.Event()
        self._in_flight: dict[str, int] = {}
        """Row id -> partition, for rows this runner is executing right now."""
        self._ended_since_claim: set[str] = set()
        """Rows whose effect ended while a claim was being read: the claim may still hold them as they
        were before (not yet done), and they must not run twice."""
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout=0.5)
                self.wake.clear()
                try:
                    await self.run_once()
                except Exception:  # the broker or the store is away: the rows stay, try again shortly
                    log.exception("effect runner round failed; retrying")
                    await asyncio.sleep(1.0)
        finally:  # effects still running are given a moment, then cancelled: a restart settles them
            await self.settled(timeout_s=STOP_GRACE_S)

    async def run_once(self) -> int:
        """Claim what is due and start it: every agent's calls, every record batch, each on its own.
        Nothing waits for anything else, so a slow, hung or lying agent delays no other agent's
        effects (its calls end at the agent client's total deadline)."""
        self._ended_since_claim = set()
        with self.metrics.store_seconds.labels("claim").time():
            claimed = await asyncio.to_thread(self.store.claim, self.owned(), self.owner)
        rows = [r for r in claimed if r.id not in self._in_flight and r.id not in self._ended_since_claim]
        probes: dict[str, list[OutboxRow]] = defaultdict(list)
        records: list[OutboxRow] = []
        for row in rows:
            if row.status == "executed":
                self._start([row], self._publish(row))
            elif row.kind == "probe":
                probes[row.agent_name].append(row)
            elif row.kind in ("recovery", "audit"):
                records.append(row)
            elif row.kind in ("release_slot", "ui_event"):
                self._start([row], self._platform_redis(row))
            else:
                self._start([row], self._execute(row))
        for agent, batch in probes.items():
            self._start(batch, self._probe_agent(agent, batch))
        if records:
            self._start(records, self._publish_records(records))
        return len(rows)

    @property
    def busy(self) -> bool:
        """Effects are being carried out right now."""
        return bool(self._in_flight)

    def _start(self, rows: list[OutboxRow], work: Coroutine[Any, Any, None]) -> None:
        for row in rows:
            self._in_flight[row.id] = row.partition
        task = asyncio.create_task(self._carry_out(rows, work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _carry_out(self, rows: list[OutboxRow], work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception:  # the broker or the store is away: the rows stay pending, claimed again later
            log.exception("effect failed for %d row(s); they stay pending", len(rows))
        finally:
            for row in rows:
                self._in_flight.pop(row.id, None)
                self._ended_since_claim.add(row.id)

    async def settled(self, timeout_s: float | None = None) -> None:
        """Until the effects started so far have ended (cancelled after `timeout_s`)."""
        pending = set(self._tasks)
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=timeout_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    async def drain(self, partitions: Iterable[int], timeout_s: float) -> None:
        """Wait (bounded) for in-flight effects of partitions being handed to another instance."""
        parts = set(partitions)
        deadline = time.monotonic() + timeout_s
        while any(p in parts for p in self._in_flight.values()) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def _probe_agent(self, agent_name: str, rows: list[OutboxRow]) -> None:
        started = time.perf_counter()
        answer = await self.agents.known_executions(agent_name)
        observed = _now_us()
        label = "known" if isinstance(answer, Known) else "unreachable"
        self.metrics.agent_calls.labels("running", label).observe(time.perf_counter() - started)
        if isinstance(answer, Unreachable):
            log.warning("agent %s did not answer GET /api/executions/running: %s", agent_name, answer.why)
            self.metrics.agent_failures.labels(agent_name).inc()
            self.metrics.board.probe_failed(agent_name, answer.why, from_micros(observed))
            why = Evidence(None, unreachable=answer.why).to_json()
            for row in rows:
                await asyncio.to_thread(self.store.record_evidence, row.id, why)
        else:
            self.metrics.board.probe_answered(agent_name)
        for row in rows:
            await self._settle(row, probe_outcome(answer, row.execution_id), observed)

    async def _publish_records(self, rows: list[OutboxRow]) -> None:
        """Recovery and audit records: all sent at once, then marked done in one write."""
        await self.publisher.records(
            [("recovery" if r.kind == "recovery" else "audit", r.payload, r.execution_id) for r in rows]
        )
        await asyncio.to_thread(self.store.mark_done, [row.id for row in rows])

    async def _platform_redis(self, row: OutboxRow) -> None:
        """Slot release and UI event: done once, recorded; left pending while Redis is away."""
        if self.redis is None:
            return
        if row.kind == "release_slot":
            outcome = await self.redis.release_slot(row.agent_name, row.execution_id)
        else:
            outcome = await self.redis.tell_ui(row.agent_name, row.payload)
        self.metrics.commands.labels(row.kind, outcome).inc()
        if outcome == "ok":
            await asyncio.to_thread(self.store.record_outcome, row.id, outcome, _now_us())
            await asyncio.to_thread(self.store.mark_done, [row.id])

    async def _execute(self, row: OutboxRow) -> None:
        interrupted = row.status == "started"
        await asyncio.to_thread(self.store.mark_started, row.id)
        started = time.perf_counter()
        if row.kind == "terminate":
            outcome = await self._terminate(row, interrupted)
        else:
            outcome = await self._mark_failed(row)
        self.metrics.agent_calls.labels(row.kind, outcome).observe(time.perf_counter() - started)
        if row.kind == "terminate" and outcome == "failed":
            self.metrics.agent_failures.labels(row.agent_name).inc()
        await self._settle(row, outcome, _now_us())

    async def _terminate(self, row: OutboxRow, interrupted: bool) -> str:
        """A retried or interrupted terminate first asks how the execution is (a kill sent earlier may
        have ended it); an acknowledged one counts only once the execution has left the running list."""
        if interrupted or json.loads(row.payload).get("attempt"):
            status = await self.agents.status(row.agent_name, row.execution_id)
            if isinstance(status, Unreachable):
                log.warning("agent %s did not answer its execution's status: %s", row.agent_name, status.why)
            settled = settled_before_resend(status)
            if settled is not None:
                return settled
        await self._keep_evidence(row)
        outcome = await self.agents.terminate(row.agent_name, row.execution_id)
        return await self._confirm_gone(row) if outcome == "ok" else outcome

    async def _keep_evidence(self, row: OutboxRow) -> None:
        """The agent drops an execution's log buffer when it ends: its last error and the latest
        entries of its log are read now, before the terminate (at once, within the last-error
        deadline), and kept with the row (for the failure mark's text and for `audit`)."""
        if row.evidence is not None:
            return
        last, tail = await asyncio.gather(
            self.agents.last_error(row.agent_name, row.execution_id),
            self.agents.log_tail(row.agent_name, row.execution_id),
        )
        evidence = Evidence(last, tuple(tail))
        if evidence:
            await asyncio.to_thread(self.store.record_evidence, row.id, evidence.to_json())

    async def _confirm_gone(self, row: OutboxRow) -> str:
        """`ok` once the agent's running list no longer holds the execution, `still_running` if it
        still did when the grace ran out, `failed` if the agent never answered (retried, status first)."""
        deadline = time.monotonic() + self.terminate_grace_s
        seen_alive = False
        while True:
            seen = seen_after_terminate(await self.agents.known_executions(row.agent_name), row.execution_id)
            if seen == "gone":
                return "ok"
            seen_alive = seen_alive or seen == "alive"
            if time.monotonic() + CONFIRM_EVERY_S > deadline:
                return unconfirmed(seen_alive)
            await asyncio.sleep(CONFIRM_EVERY_S)

    async def _mark_failed(self, row: OutboxRow) -> str:
        error = json.loads(row.payload).get("error") or ""
        if self.platform.wants_error_context:
            kept = await asyncio.to_thread(self._kept_last_error, row.execution_id)
            error = enrich_error(error, kept or await self.agents.last_error(row.agent_name, row.execution_id))
        return await self.platform.mark_failed(row.execution_id, error, from_micros(_now_us()))

    def _kept_last_error(self, execution_id: str) -> LastError | None:
        kept = [r.evidence for r in self.store.outbox_rows(execution_id) if r.kind == "terminate" and r.evidence]
        return Evidence.from_json(kept[-1]).last_error if kept else None

    async def _settle(self, row: OutboxRow, outcome: str, observed_us: int) -> None:
        await asyncio.to_thread(self.store.record_outcome, row.id, outcome, observed_us)
        self.metrics.commands.labels(row.kind, outcome).inc()
        log.info(
            "%s %s on %s: %s",
            row.kind,
            row.execution_id,
            row.agent_name,
            outcome,
            extra={"execution_id": row.execution_id, "agent_name": row.agent_name, "action": row.kind},
        )
        await self._publish(replace(row, status="executed", outcome=outcome, observed_at_us=observed_us))

    async def _publish(self, row: OutboxRow) -> None:
        """Feed a recorded outcome back into the log (again, after a restart: it is idempotent)."""
        assert row.outcome is not None and row.observed_at_us is not None
        observed = from_micros(row.observed_at_us)
        result: ProbeResult | CommandResult
        if row.kind == "probe":
            result = ProbeResult.model_validate(
                {
                    "schema_version": 1,
                    "type": "watchdog.probe_result",
                    "execution_id": row.execution_id,
                    "agent_name": row.agent_name,
                    "observed_at": observed,
                    "outcome": row.outcome,
                }
            )
        else:
            result = CommandResult.model_validate(
                {
                    "schema_version": 1,
                    "type": "watchdog.command_result",
                    "command_id": row.id.rsplit("#", 1)[0],
                    "observed_at": observed,
                    "outcome": row.outcome,
                }
            )
        await self.publisher.control(result, row.partition, key=row.execution_id)
        await asyncio.to_thread(self.store.mark_done, [row.id])
