"""Helpers of the decision tests: feeding an engine, and reading what it decided."""

from __future__ import annotations

from collections.abc import Iterable

from schemas import Command, InputEvent, Output, RecoveryEvent, State, Transition
from statemachine import Engine
from tests.events import lifecycle, tick, when

X = "exec-1"


def feed(engine: Engine, events: Iterable[InputEvent]) -> list[Output]:
    return [output for event in events for output in engine.apply(event)]


def transitions(outputs: list[Output]) -> list[tuple[str, str]]:
    return [(o.from_state.value, o.to_state.value) for o in outputs if isinstance(o, Transition)]


def commands(outputs: list[Output], kind: str | None = None) -> list[Command]:
    return [o for o in outputs if isinstance(o, Command) and (kind is None or o.kind == kind)]


def recoveries(outputs: list[Output], action: str | None = None) -> list[RecoveryEvent]:
    return [o for o in outputs if isinstance(o, RecoveryEvent) and (action is None or o.action == action)]


def ticks(start: float, stop: float, every: float = 5) -> list[InputEvent]:
    count = int((stop - start) / every) + 1
    return [tick(start + i * every) for i in range(count)]


def heartbeats(execution_id: str, start: float, stop: float, every: float = 30) -> list[InputEvent]:
    count = int((stop - start) / every) + 1
    return [lifecycle("heartbeat", execution_id, start + i * every) for i in range(count)]


def interleave(*streams: list[InputEvent]) -> list[InputEvent]:
    """Merge event streams by event time, ticks last among equals (as the runtime applies them)."""

    def key(event: InputEvent) -> tuple[object, int]:
        moment = getattr(event, "now", None) or getattr(event, "occurred_at", None) or event.observed_at
        return moment, 1 if event.type == "watchdog.tick" else 0

    return sorted((e for s in streams for e in s), key=key)


def at_time(seconds: float) -> object:
    return when(seconds)


def state(engine: Engine, execution_id: str = X) -> State:
    return engine.records[execution_id].state


def alive_without_activity(engine: Engine, until: float, **started: object) -> list[Output]:
    return feed(engine, interleave([lifecycle("started", X, 0, **started)], heartbeats(X, 30, until), ticks(5, until)))
