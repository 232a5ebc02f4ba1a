"""What the demo shows: executions by state, recent recoveries with their reasons, events per second."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from schemas.fields import State

STATE_STYLE = {
    State.RUNNING: "green",
    State.SUSPECTED: "yellow",
    State.IDLE: "magenta",
    State.CONFIRMED_ORPHAN: "red",
    State.FAILED: "bold red",
    State.COMPLETED: "cyan",
    State.CANCELLED: "dim",
}
ACTION_STYLE = {
    "orphan_recovered": "red",
    "auto_terminated": "bold red",
    "idle_detected": "magenta",
    "agent_unreachable": "yellow",
    "incident": "bold yellow",
}


_CROWDED = (State.RUNNING, State.COMPLETED)
"""States whose members are not listed: the crowd; the others are what the story is about."""


@dataclass
class Picture:
    elapsed_s: float
    duration_s: float
    states: Counter[State]
    recoveries: list[dict[str, Any]]
    events_per_s: float
    extras: list[str] = field(default_factory=list)
    """Lines shown under the tables."""
    members: dict[State, list[str]] = field(default_factory=dict)
    """Which executions are in each state."""


def render(p: Picture) -> Group:
    states = Table(title="executions by state", expand=True)
    for state in State:
        states.add_column(state.value, justify="center", style=STATE_STYLE[state])
    states.add_row(*(str(p.states.get(s, 0)) for s in State))
    states.add_row(*("\n".join(p.members.get(s, [])) if s not in _CROWDED else "" for s in State))
    recent = Table(title="recoveries (newest first)", expand=True)
    recent.add_column("decided at", no_wrap=True)
    recent.add_column("action", no_wrap=True)
    recent.add_column("execution", no_wrap=True)
    recent.add_column("why")
    for event in reversed(p.recoveries[-10:]):
        style = ACTION_STYLE.get(str(event["action"]), "")
        recent.add_row(
            str(event["decided_at"])[11:19],
            f"[{style}]{event['action']}[/]",
            str(event["execution_id"]),
            str(event["reason"]),
        )
    footer = f"{p.elapsed_s:5.0f}s / {p.duration_s:.0f}s   {p.events_per_s:6.1f} events/s   Ctrl-C ends it early"
    return Group(Panel(footer, title="exec-watchdog demo"), states, recent, *p.extras)


def plain_line(event: dict[str, Any]) -> str:
    return f"{str(event['decided_at'])[11:19]}  {event['action']:<18} {event['execution_id']:<12} {event['reason']}"
