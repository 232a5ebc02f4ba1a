"""The execution state graph, declared once with `transitions` and compiled to a dispatch table.

The `transitions` machine is the single declaration of states, triggers and guards: it is built
at import (which validates it) and never owns a model, I/O or timers. Deciding uses the compiled
table `(state, trigger) -> candidates`, a dict lookup instead of a machine trigger per event.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from transitions import Machine

from schemas.fields import State

logging.getLogger("transitions").setLevel(logging.WARNING)

# Plain strings: `transitions` would name Enum states by their member names.
RUNNING, SUSPECTED, IDLE, ORPHAN = "running", "suspected", "idle", "confirmed_orphan"
FAILED, COMPLETED, CANCELLED = "failed", "completed", "cancelled"
ACTIVE = [RUNNING, SUSPECTED, IDLE, ORPHAN]

TRIGGERS = (
    "silence",  # a deadline: no sign of life for HEARTBEAT_TIMEOUT_S
    "idle_due",  # a deadline: no activity for IDLE_AFTER_S, or runtime past its timeout
    "sign_of_life",  # a heartbeat, or a probe that found it running
    "activity",  # the execution made progress
    "probe_not_found",  # the agent does not know the execution
    "marked_failed",  # the platform row was marked failed
    "already_finished",  # the platform row had ended already
    "finish_completed",
    "finish_failed",
    "finish_cancelled",
    "brake_released",  # the mass-failure brake let go: a held orphan is probed again before anything
    "terminate_missed",  # the agent had nothing to terminate (404, already finished): examine it again
)

GRAPH: list[dict[str, object]] = [
    {"trigger": "silence", "source": [RUNNING, IDLE], "dest": SUSPECTED, "unless": ["acting"]},
    {"trigger": "idle_due", "source": RUNNING, "dest": IDLE, "conditions": ["is_idle"]},
    {"trigger": "sign_of_life", "source": SUSPECTED, "dest": IDLE, "conditions": ["is_idle"]},
    {"trigger": "sign_of_life", "source": SUSPECTED, "dest": RUNNING},
    {"trigger": "activity", "source": SUSPECTED, "dest": IDLE, "conditions": ["is_idle"]},
    {"trigger": "activity", "source": SUSPECTED, "dest": RUNNING},
    {"trigger": "activity", "source": IDLE, "dest": RUNNING, "unless": ["is_idle"]},
    {
        "trigger": "probe_not_found",
        "source": SUSPECTED,
        "dest": ORPHAN,
        "conditions": ["old_enough"],
    },
    {"trigger": "marked_failed", "source": [ORPHAN, IDLE], "dest": FAILED},
    {"trigger": "already_finished", "source": [ORPHAN, IDLE], "dest": COMPLETED},
    {"trigger": "brake_released", "source": ORPHAN, "dest": SUSPECTED},
    {"trigger": "terminate_missed", "source": IDLE, "dest": SUSPECTED},
    {"trigger": "finish_completed", "source": ACTIVE, "dest": COMPLETED},
    {"trigger": "finish_failed", "source": ACTIVE, "dest": FAILED},
    {"trigger": "finish_cancelled", "source": ACTIVE, "dest": CANCELLED},
]

MACHINE = Machine(
    model=None,
    states=[state.value for state in State],
    transitions=GRAPH,
    initial=RUNNING,
    auto_transitions=False,
    send_event=False,
)


@dataclass(frozen=True, slots=True)
class Guard:
    name: str
    expected: bool


@dataclass(frozen=True, slots=True)
class Candidate:
    guards: tuple[Guard, ...]
    dest: State


def _compile(machine: Machine) -> Mapping[tuple[State, str], tuple[Candidate, ...]]:
    table: dict[tuple[State, str], tuple[Candidate, ...]] = {}
    for trigger, event in machine.events.items():
        for source, transitions in event.transitions.items():
            table[(State(source), trigger)] = tuple(
                Candidate(tuple(Guard(str(c.func), c.target) for c in t.conditions), State(str(t.dest)))
                for t in transitions
            )
    return table


TABLE = _compile(MACHINE)
GUARDS = frozenset(g.name for candidates in TABLE.values() for c in candidates for g in c.guards)


def mermaid() -> str:
    """The graph as a mermaid state diagram (the README shows this)."""
    lines = ["stateDiagram-v2", f"    [*] --> {State.RUNNING.value}: started"]
    for (source, trigger), candidates in TABLE.items():
        for candidate in candidates:
            guards = [g.name if g.expected else f"not {g.name}" for g in candidate.guards]
            label = trigger + (f" [{', '.join(guards)}]" if guards else "")
            lines.append(f"    {source.value} --> {candidate.dest.value}: {label}")
    lines.extend(f"    {state.value} --> [*]" for state in State if state.is_terminal)
    return "\n".join(lines) + "\n"
