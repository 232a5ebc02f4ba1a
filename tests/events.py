"""Builders for input events in tests: times are seconds after T0, ids are readable."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from schemas import CommandResult, InputEvent, LifecycleEvent, ProbeResult, Tick, parse_input
from statemachine.timestamps import from_micros, iso

T0 = 1_796_000_000_000_000  # 2026-11-29T...Z, in microseconds
AGENT = "research-bot"


def at(seconds: float) -> str:
    return iso(T0 + round(seconds * 1_000_000))


def when(seconds: float) -> Any:
    return from_micros(T0) + timedelta(seconds=seconds)


def lifecycle_json(kind: str, execution_id: str, seconds: float, event_id: str | None = None, **extra: Any) -> str:
    body = {
        "schema_version": 1,
        "event_id": event_id or f"{kind}-{execution_id}-{seconds}",
        "type": f"execution.{kind}",
        "execution_id": execution_id,
        "agent_name": extra.pop("agent_name", AGENT),
        "occurred_at": at(seconds),
        **extra,
    }
    return json.dumps(body)


def lifecycle(kind: str, execution_id: str, seconds: float, **extra: Any) -> LifecycleEvent:
    event = parse_input(lifecycle_json(kind, execution_id, seconds, **extra))
    assert isinstance(event, LifecycleEvent)
    return event


def tick(seconds: float) -> Tick:
    return Tick(schema_version=1, type="watchdog.tick", now=when(seconds))


def probe(execution_id: str, seconds: float, outcome: str, agent_name: str = AGENT) -> ProbeResult:
    return ProbeResult.model_validate_json(
        json.dumps(
            {
                "schema_version": 1,
                "type": "watchdog.probe_result",
                "execution_id": execution_id,
                "agent_name": agent_name,
                "observed_at": at(seconds),
                "outcome": outcome,
            }
        )
    )


def result(command_id: str, seconds: float, outcome: str) -> CommandResult:
    return CommandResult.model_validate_json(
        json.dumps(
            {
                "schema_version": 1,
                "type": "watchdog.command_result",
                "command_id": command_id,
                "observed_at": at(seconds),
                "outcome": outcome,
            }
        )
    )


def as_json(event: InputEvent) -> str:
    return event.model_dump_json(exclude_none=True)
