"""Inputs of the decision core: lifecycle events (contract §2) and control events (contract §7)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.fields import AgentName, Attributes, EventId, ExecutionId, Timestamp

LifecycleType = Literal[
    "execution.started",
    "execution.heartbeat",
    "execution.activity",
    "execution.completed",
    "execution.failed",
    "execution.cancelled",
]


class _Input(BaseModel):
    # Strict: "3" is not a number and 1700000000 is not a timestamp. Unknown fields are ignored,
    # so producers may add fields without breaking this reader.
    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")

    schema_version: Literal[1]


class LifecycleEvent(_Input):
    """What the platform says about an execution (topic `executions.lifecycle`)."""

    event_id: EventId
    type: LifecycleType
    execution_id: ExecutionId
    agent_name: AgentName
    occurred_at: Timestamp
    timeout_seconds: Annotated[float, Field(gt=0, le=366 * 86400)] | None = None
    attributes: Attributes | None = None


class Tick(_Input):
    """Time passes: deadlines up to `now` fall due."""

    type: Literal["watchdog.tick"]
    now: Timestamp
    event_id: EventId | None = None


class ProbeResult(_Input):
    """What an agent answered when asked whether it knows an execution."""

    type: Literal["watchdog.probe_result"]
    execution_id: ExecutionId
    agent_name: AgentName
    observed_at: Timestamp
    outcome: Literal["running", "not_found", "unreachable"]
    event_id: EventId | None = None


class CommandResult(_Input):
    """How a `terminate` or `mark_failed` command ended. `still_running`: the agent acknowledged a
    terminate, but the execution was still in its running list when the grace period ran out."""

    type: Literal["watchdog.command_result"]
    command_id: EventId
    observed_at: Timestamp
    outcome: Literal["ok", "already_finished", "not_found", "failed", "still_running"]
    event_id: EventId | None = None


ControlEvent = Tick | ProbeResult | CommandResult
InputEvent = Annotated[LifecycleEvent | Tick | ProbeResult | CommandResult, Field(discriminator="type")]
