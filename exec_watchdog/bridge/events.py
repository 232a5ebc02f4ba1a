"""What the bridge says, as a pure function of what it saw: platform rows and the agents' lists.

- `execution.started` when a running row appears (with `timeout_seconds` when Trinity configured a
  limit for it, its schedule's else its agent's; without one, the watchdog's settings apply);
- `execution.heartbeat` while its agent reports it running or queued (recently completed is not
  alive: heartbeating it would hide exactly the orphans the watchdog exists to find);
- `execution.activity` when its log stream sent a live entry since the last round (at the latest
  entry's time; one per execution and round);
- `execution.completed` / `failed` / `cancelled` when a row seen running has left `running`;
- `execution.completed` again when a row that left `running` as failed later says success (Trinity's
  success write is unconditional: it can land over the watchdog's failure mark; the watchdog then
  says `overridden`).
Event ids are derived from the execution and, for heartbeats, the poll interval they belong to, so
a restarted bridge repeats ids instead of inventing new ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from exec_watchdog.adapters.agent_api import Known
from exec_watchdog.adapters.trinity_db import PlatformExecution
from schemas.inputs import LifecycleEvent
from statemachine.ids import derived_input_id

_TERMINAL = {
    "success": "execution.completed",
    "completed": "execution.completed",
    "failed": "execution.failed",
    "error": "execution.failed",
    "timeout": "execution.failed",
    "timed_out": "execution.failed",
    "cancelled": "execution.cancelled",
    "canceled": "execution.cancelled",
    "skipped": "execution.cancelled",
}


@dataclass(frozen=True, slots=True)
class Observation:
    now: datetime
    interval_s: float
    running: list[PlatformExecution]
    ended: list[PlatformExecution]
    """Rows seen running last time that are no longer running (missing rows are left out)."""
    agents: Mapping[str, Known]
    """The agents that answered, with what they know."""
    rewritten: Sequence[PlatformExecution] = ()
    """Rows that ended as failed earlier and are now ended otherwise."""
    progress: Mapping[str, datetime] = field(default_factory=dict)
    """When running executions last made progress (a live entry on their log stream), since the last round."""


def bridge_events(previously_running: set[str], seen: Observation) -> list[LifecycleEvent]:
    events = []
    bucket = str(int(seen.now.timestamp() // seen.interval_s))
    for row in seen.running:
        if row.id not in previously_running:
            events.append(_event("execution.started", row, row.started_at or seen.now, row.timeout_s))
        if row.id in seen.progress:
            events.append(_event("execution.activity", row, seen.progress[row.id], None, bucket))
        known = seen.agents.get(row.agent_name)
        if known is not None and row.id in known.alive:
            events.append(_event("execution.heartbeat", row, seen.now, None, bucket))
    for row in seen.ended:
        events.append(_event(ends_as(row.status), row, row.completed_at or seen.now, None))
    for row in seen.rewritten:  # only a status that says success: not one merely unknown, nor `running`
        if _TERMINAL.get(row.status.lower()) == "execution.completed":
            events.append(_event("execution.completed", row, row.completed_at or seen.now, None))
    return events


def ends_as(status: str) -> str:
    """The lifecycle event for a platform status that is not `running`."""
    return _TERMINAL.get(status.lower(), "execution.completed")


def _event(
    kind: str, row: PlatformExecution, at: datetime, timeout_s: float | None, bucket: str = ""
) -> LifecycleEvent:
    return LifecycleEvent.model_validate(
        {
            "schema_version": 1,
            "event_id": derived_input_id("bridge", kind, row.id, bucket),
            "type": kind,
            "execution_id": row.id,
            "agent_name": row.agent_name,
            "occurred_at": at,
            "timeout_seconds": timeout_s,
        }
    )
