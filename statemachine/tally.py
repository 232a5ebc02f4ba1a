"""What the engine counts and indexes as records come and go, so that questions about the whole fleet
(the brake's denominator, an agent's outage, `status`, the command an answer belongs to) cost no scan
of the records."""

from __future__ import annotations

from collections import Counter

from schemas.fields import TERMINAL_STATES, State
from statemachine.record import ExecutionRecord

NOTABLE = frozenset({State.SUSPECTED, State.IDLE, State.CONFIRMED_ORPHAN})


class Tally:
    def __init__(self) -> None:
        self.states: Counter[State] = Counter()
        """Executions remembered, by state."""
        self.notable: set[str] = set()
        """Executions suspected, idle or confirmed orphans: what an operator asks about."""
        self.active: Counter[str] = Counter()
        """Executions not yet ended, by agent (the brake's denominator)."""
        self.held: set[str] = set()
        self.unreachable: Counter[str] = Counter()
        """Executions not yet ended whose agent did not answer their last probe, by agent: an outage is
        open while its count is above zero."""
        self.commands: dict[str, str] = {}
        """Command id in flight -> its execution."""

    def add(self, record: ExecutionRecord) -> None:
        x, state = record.execution_id, record.state
        self.states[state] += 1
        if state in NOTABLE:
            self.notable.add(x)
        if state not in TERMINAL_STATES:
            self.active[record.agent_name] += 1
            if record.unreachable:
                self.unreachable[record.agent_name] += 1
        if record.held:
            self.held.add(x)
        if record.action_id is not None:
            self.commands[record.action_id] = x

    def remove(self, record: ExecutionRecord) -> None:
        x, state = record.execution_id, record.state
        self.states[state] -= 1
        if state in NOTABLE:
            self.notable.discard(x)
        if state not in TERMINAL_STATES:
            self.active[record.agent_name] -= 1
            if record.unreachable:
                self.unreachable[record.agent_name] -= 1
        if record.held:
            self.held.discard(x)
        if record.action_id is not None and self.commands.get(record.action_id) == x:
            del self.commands[record.action_id]
