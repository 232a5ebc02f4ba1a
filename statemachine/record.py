"""What the core remembers about one execution: a small value with slots."""

from __future__ import annotations

from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any, Literal

from schemas.fields import State

ActionKind = Literal["terminate", "mark_failed"]
RecoveryKind = Literal["orphan", "timeout"]


@dataclass(slots=True)
class ExecutionRecord:
    """Times are event-time microseconds since the epoch (see `statemachine.timestamps`).

    A value: `decide` never changes the record it is given, it returns a new one (a property test
    holds it to that). The engine alone writes fields in place, on the records of its own `records`:
    `last_seen` on the heartbeat hot path, `armed_at`, and every time field when a gap in its watch is
    taken out (a frozen record would cost a copy of every field for each). Readers of `Engine.records`
    see them move from one input to the next.
    """

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
    terminate_missed: bool = False
    """A terminate found nothing to end (404, already finished): never terminated again, only probed."""
    conflict_agent: str | None = None
    """Another agent named in an event for this execution: held, nothing is done to it on either agent."""
    kill_unconfirmed: bool = False
    """A terminate was acknowledged but the execution was still running after the grace: announced once."""
    seen_ids: bytes = b""
    """Fingerprints of the latest event ids applied (`statemachine.seen_ids`): a repeat changes nothing."""
    activity_seen: bool = False
    """An `execution.activity` was applied: its source reports progress, so its silence can mean idle."""

    def but(self, **changes: Any) -> ExecutionRecord:
        """A copy with `changes`: `dataclasses.replace` without its scan of the fields at every call."""
        new = ExecutionRecord(*field_values(self))
        for name, value in changes.items():
            setattr(new, name, value)
        return new


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(ExecutionRecord))
field_values = attrgetter(*FIELD_NAMES)
"""A record's field values as a tuple, in `FIELD_NAMES` order."""
TIME_FIELDS: tuple[str, ...] = (
    "started_at",
    "last_seen",
    "last_activity",
    "next_probe_at",
    "retry_at",
    "evidence_at",
    "ended_at",
    "armed_at",
)
"""The fields that hold times: a gap in the watchdog's watch moves them all alike."""
