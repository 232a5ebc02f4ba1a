"""What the core remembers about one execution: a small immutable value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from schemas.fields import State

ActionKind = Literal["terminate", "mark_failed"]
RecoveryKind = Literal["orphan", "timeout"]


@dataclass(frozen=True, slots=True)
class ExecutionRecord:
    """Times are event-time microseconds since the epoch (see `statemachine.timestamps`)."""

    execution_id: str
    agent_name: str
    state: State
    started_at: int
    last_seen: int
    """Latest sign of life: a lifecycle event or a probe that found it running."""
    last_activity: int
    own_timeout_us: int | None = None
    seq: int = 0
    """How many decisions produced outputs; ids derive from it."""
    probe_attempts: int = 0
    """Consecutive probes without a definitive answer (drives the backoff)."""
    next_probe_at: int | None = None
    unreachable: bool = False
    """Inside an episode of failed probes, already announced."""
    idle_announced: bool = False
    action_kind: ActionKind | None = None
    action_id: str | None = None
    """The terminate or mark_failed command in flight, if any."""
    action_attempts: int = 0
    retry_at: int | None = None
    recovery: RecoveryKind | None = None
    evidence_at: int | None = None
    """When the deciding evidence was observed: the not_found probe, or the successful terminate."""
    cause_id: str | None = None
    error: str | None = None
    ended_at: int | None = None
    held: bool = False
    """A terminate or mark_failed is due but held by the mass-failure brake."""
    armed_at: int | None = None
    """The deadline this record holds in the engine's heap (owned by the engine)."""

    def seen(self, at: int) -> ExecutionRecord:
        """The heartbeat hot path: only `last_seen` moves."""
        return ExecutionRecord(
            self.execution_id,
            self.agent_name,
            self.state,
            self.started_at,
            at,
            self.last_activity,
            self.own_timeout_us,
            self.seq,
            self.probe_attempts,
            self.next_probe_at,
            self.unreachable,
            self.idle_announced,
            self.action_kind,
            self.action_id,
            self.action_attempts,
            self.retry_at,
            self.recovery,
            self.evidence_at,
            self.cause_id,
            self.error,
            self.ended_at,
            self.held,
            self.armed_at,
        )
