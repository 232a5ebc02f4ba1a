"""What one instance thinks right now: the document `exec-watchdog status` and `GET /status` show.

Per instance: its partitions, executions by state, the executions suspected, idle or confirmed
orphan (agent, since when, why, held by the brake or not), agents in an outage (since when, the
cause of the failed probe), the incident, the consumer lag. Built from the engines' own counters
and indexes (no scan of the tracked executions) and from a `StatusBoard` that remembers, from the
decisions this instance made, when and why each notable execution got where it is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from schemas.fields import State
from schemas.outputs import Output, Transition
from statemachine.engine import Engine
from statemachine.timestamps import from_micros

LISTED = 500
"""Notable executions listed by name per instance (the rest are counted)."""
_NOTABLE = (State.SUSPECTED, State.IDLE, State.CONFIRMED_ORPHAN)


class NotableExecution(BaseModel):
    model_config = ConfigDict(frozen=True)

    execution_id: str
    agent_name: str
    state: State
    since: datetime | None
    """When it entered this state (None: before this instance owned its partition)."""
    why: str | None
    held: bool
    """A terminate or failure mark is due and the mass-failure brake holds it."""


class UnreachableAgent(BaseModel):
    model_config = ConfigDict(frozen=True)

    agent_name: str
    since: datetime | None
    why: str | None
    """The failed probe's cause: refused, HTTP 401, no whole reply within 15 s, ..."""


class InstanceStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    instance_id: str
    group_id: str
    written_at: datetime
    partitions: list[int]
    counts: dict[str, int]
    executions: list[NotableExecution]
    unlisted: int
    """Notable executions beyond the LISTED ones."""
    unreachable_agents: list[UnreachableAgent]
    incident_since: datetime | None
    lag: dict[str, int]
    """Lifecycle records not yet read, by partition."""


@dataclass(frozen=True, slots=True)
class Seen:
    at: datetime
    why: str


class StatusBoard:
    """When and why, for what the engines only know as a state: the latest transition of each
    notable execution, and the cause of each agent's failing probes."""

    def __init__(self) -> None:
        self.executions: dict[str, Seen] = {}
        self.outages: dict[str, Seen] = {}

    def note(self, outputs: Iterable[Output]) -> None:
        for output in outputs:
            if not isinstance(output, Transition):
                continue
            if output.to_state in _NOTABLE:
                self.executions[output.execution_id] = Seen(output.at, output.cause)
            else:
                self.executions.pop(output.execution_id, None)

    def probe_failed(self, agent_name: str, why: str, at: datetime) -> None:
        if agent_name not in self.outages:
            self.outages[agent_name] = Seen(at, why)
        else:
            self.outages[agent_name] = Seen(self.outages[agent_name].at, why)

    def probe_answered(self, agent_name: str) -> None:
        self.outages.pop(agent_name, None)


def instance_status(
    instance_id: str,
    group_id: str,
    engines: Mapping[int, Engine],
    board: StatusBoard,
    lag: Mapping[int, int],
    now: datetime | None = None,
) -> InstanceStatus:
    counts: Counter[State] = Counter()
    found: list[tuple[datetime, str, Engine]] = []
    agents: set[str] = set()
    incident: int | None = None
    earliest = datetime.min.replace(tzinfo=UTC)
    for engine in engines.values():
        counts.update(engine.states)
        agents.update(engine.unreachable_agents())
        if engine.brake.engaged_at is not None:
            incident = min(incident or engine.brake.engaged_at, engine.brake.engaged_at)
        for execution_id in engine.notable:
            seen = board.executions.get(execution_id)
            found.append((earliest if seen is None else seen.at, execution_id, engine))
    found.sort(key=lambda f: (f[0], f[1]))
    notable = [_notable(execution_id, engine, board) for _, execution_id, engine in found[:LISTED]]
    outages = [
        UnreachableAgent(
            agent_name=agent,
            since=board.outages[agent].at if agent in board.outages else None,
            why=board.outages[agent].why if agent in board.outages else None,
        )
        for agent in sorted(agents)
    ]
    return InstanceStatus(
        instance_id=instance_id,
        group_id=group_id,
        written_at=now or datetime.now(UTC),
        partitions=sorted(engines),
        counts={state.value: counts[state] for state in State},
        executions=notable,
        unlisted=max(0, len(found) - LISTED),
        unreachable_agents=outages,
        incident_since=None if incident is None else from_micros(incident),
        lag={str(p): n for p, n in sorted(lag.items())},
    )


def _notable(execution_id: str, engine: Engine, board: StatusBoard) -> NotableExecution:
    record = engine.records[execution_id]
    seen = board.executions.get(execution_id)
    return NotableExecution(
        execution_id=execution_id,
        agent_name=record.agent_name,
        state=record.state,
        since=None if seen is None else seen.at,
        why=None if seen is None else seen.why,
        held=execution_id in engine.held,
    )
