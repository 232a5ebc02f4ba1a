"""Outputs of the decision core: transitions, commands (contract §7) and recovery events (§3)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.fields import AgentName, EventId, ExecutionId, State

RecoveryAction = Literal[
    "orphan_recovered",
    "auto_terminated",
    "idle_detected",
    "agent_unreachable",
    "incident",
    "overridden",
    "suspected",
    "cleared",
]
CommandKind = Literal["probe", "terminate", "mark_failed"]


class _Output(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)


class Transition(_Output):
    type: Literal["transition"] = "transition"
    execution_id: ExecutionId
    from_state: State = Field(alias="from")
    to_state: State = Field(alias="to")
    at: AwareDatetime
    cause: str


class Command(_Output):
    """An effect the runtime must carry out; its result comes back as a `CommandResult` or `ProbeResult`.

    `error` travels with `mark_failed` to the effect runner (the platform row needs it), and
    `attempt` numbers the retries of one command id (each attempt is executed at most once); neither
    is part of the command's public JSON (contract §7).
    """

    type: Literal["command"] = "command"
    command_id: EventId
    kind: CommandKind
    execution_id: ExecutionId
    agent_name: AgentName
    at: AwareDatetime
    error: str | None = Field(default=None, exclude=True)
    attempt: int = Field(default=0, ge=0, exclude=True)


class RecoveryEvent(_Output):
    """What other services learn on `watchdog.recoveries`."""

    schema_version: Literal[1] = 1
    event_id: EventId
    type: Literal["watchdog.recovery"] = "watchdog.recovery"
    action: RecoveryAction
    execution_id: ExecutionId
    agent_name: AgentName
    state: State
    reason: str
    error: str | None = None
    decided_at: AwareDatetime
    caused_by: tuple[EventId, ...]


Output = Annotated[Transition | Command | RecoveryEvent, Field(discriminator="type")]
