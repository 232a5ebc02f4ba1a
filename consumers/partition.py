"""One partition's state and the deterministic order in which its two logs are applied.

A partition number names two co-partitioned logs: the platform's lifecycle events and our own
control log (ticks, probe and command results). Every control record carries a `through` header,
a lifecycle offset: before applying it, every lifecycle record below that offset is applied. A tick
gets `through` = the lifecycle end offset when its `now` was read, so time never runs ahead of the
heartbeats already written (the events clock); results carry no constraint. Lifecycle records past
the last `through` wait for the next control record. The order is therefore a pure function of the
two logs: after a crash or a rebalance, replaying from a snapshot's positions applies exactly the
same inputs in exactly the same order, and so makes exactly the same decisions with the same ids.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from schemas.fast_heartbeat import plain_heartbeat
from schemas.fields import State
from schemas.inputs import CommandResult, InputEvent, ProbeResult, Tick
from schemas.log_records import KafkaRecord, LogRecord, Rejected, through_of
from schemas.outputs import Output, Transition
from schemas.parsing import InvalidInput, parse_input, parse_lifecycle
from statemachine.engine import Engine
from statemachine.time_notes import time_note


@dataclass(frozen=True, slots=True)
class Change:
    """What one input did to one execution."""

    execution_id: str
    before: State | None
    after: State | None
    outputs: list[Output]


@dataclass(frozen=True, slots=True)
class Applied:
    """One input as applied, with what it decided (the audit's raw material)."""

    topic: str
    offset: int
    event: InputEvent
    outputs: list[Output]
    changes: list[Change]
    time_note: str | None = None
    """The input's claimed time was not taken as it was: what counted instead, and why."""


@dataclass
class Drained:
    applied: list[Applied] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    quiet: int = 0
    """Heartbeats of running executions applied on the hot path: they decide nothing, so no `Applied`."""

    @property
    def outputs(self) -> list[Output]:
        return [o for a in self.applied for o in a.outputs]


class PartitionState:
    def __init__(
        self,
        partition: int,
        engine: Engine,
        *,
        lifecycle_topic: str,
        control_topic: str,
        lifecycle_offset: int = 0,
        control_offset: int = 0,
        respond: Callable[[list[Output]], list[InputEvent]] | None = None,
        keep_quiet: bool = True,
    ) -> None:
        self.partition = partition
        self.engine = engine
        self.lifecycle_topic = lifecycle_topic
        self.control_topic = control_topic
        self.lifecycle_next = lifecycle_offset
        """Every lifecycle record below this offset has been applied."""
        self.control_next = control_offset
        self.lifecycle_fetched = lifecycle_offset
        """Every lifecycle record below this offset has been read from the broker."""
        self.respond = respond
        """What-if backtests answer commands at once, instead of reading answers from the log."""
        self.keep_quiet = keep_quiet
        """List every input in `Drained.applied` (an export needs them); else quiet heartbeats are counted."""
        self._lifecycle: deque[KafkaRecord] = deque()
        self._control: deque[KafkaRecord] = deque()

    def add_lifecycle(self, records: Sequence[KafkaRecord], fetched_to: int) -> None:
        self._lifecycle.extend(r for r in records if r.offset >= self.lifecycle_next)
        self.lifecycle_fetched = max(self.lifecycle_fetched, fetched_to, *(r.offset + 1 for r in records))

    def add_control(self, records: Sequence[KafkaRecord]) -> None:
        self._control.extend(r for r in records if r.offset >= self.control_next)

    def rewind(self) -> None:
        """Forget what was read but not applied: reading starts again at the next record to apply."""
        self._lifecycle.clear()
        self._control.clear()
        self.lifecycle_fetched = self.lifecycle_next

    def waiting(self) -> int:
        """Records read but not yet applied."""
        return len(self._lifecycle) + len(self._control)

    def drain(self) -> Drained:
        """Apply everything the merge rule allows now."""
        drained = Drained()
        while self._control:
            record = self._control[0]
            through = through_of(record)
            if self.lifecycle_fetched < through:
                break  # lifecycle records this control record vouches for are still unread
            self._apply_lifecycle_below(through, drained)
            self.lifecycle_next = max(self.lifecycle_next, through)
            self._control.popleft()
            self._apply(record, self.control_topic, _parse_control, drained)
            self.control_next = record.offset + 1
        return drained

    def _apply_lifecycle_below(self, through: int, drained: Drained) -> None:
        """Every waiting lifecycle record below `through` (the caller then moves `lifecycle_next` there)."""
        lifecycle, fast, quiet = self._lifecycle, not self.keep_quiet, 0
        tracked, beat = self.engine.records, self.engine.beat
        while lifecycle and lifecycle[0].offset < through:
            record = lifecycle.popleft()
            if fast and record.value is not None:
                plain = plain_heartbeat(record.value, tracked)
                if plain is not None and beat(*plain):  # else the full path (and the audit's note)
                    quiet += 1
                    continue
            self._apply(record, self.lifecycle_topic, parse_lifecycle, drained)
        drained.quiet += quiet

    def _apply(self, record: KafkaRecord, topic: str, parse: Callable[[bytes], InputEvent], drained: Drained) -> None:
        if topic == self.lifecycle_topic:
            self.lifecycle_next = record.offset + 1
        try:
            event = parse(record.value if record.value is not None else b"")
        except InvalidInput as error:
            drained.rejected.append(Rejected(topic, record.offset, record, error.reason))
            return
        except Exception as error:  # a record no rule foresaw: dead-lettered with the error's type, never a crash
            reason = f"record: unreadable ({type(error).__name__})"
            drained.rejected.append(Rejected(topic, record.offset, record, reason))
            return
        self._apply_event(event, topic, record.offset, drained)

    def _apply_event(self, event: InputEvent, topic: str, offset: int, drained: Drained) -> None:
        subject = self.engine.subject(event)
        before = None if subject is None else self.engine.state_of(subject)
        note = time_note(event, self.engine.clock, self.engine.policy)
        outputs = self.engine.apply(event)
        if subject is not None:
            changes = [Change(subject, before, self.engine.state_of(subject), outputs)]
        else:  # a tick: one change per execution it moved
            changes = [
                Change(x, _first_source(outs) or self.engine.state_of(x), self.engine.state_of(x), outs)
                for x, outs in _by_execution(outputs).items()
            ]
        drained.applied.append(Applied(topic, offset, event, outputs, changes, note))
        if self.respond is not None:
            for answer in self.respond(outputs):
                self._apply_event(answer, topic, offset, drained)


def _by_execution(outputs: list[Output]) -> dict[str, list[Output]]:
    grouped: dict[str, list[Output]] = {}
    for output in outputs:
        grouped.setdefault(output.execution_id, []).append(output)
    return grouped


def _first_source(outputs: list[Output]) -> State | None:
    return next((o.from_state for o in outputs if isinstance(o, Transition)), None)


def _parse_control(data: bytes) -> InputEvent:
    event = parse_input(data)
    if not isinstance(event, Tick | ProbeResult | CommandResult):
        raise InvalidInput(f"type: '{event.type}' is not a control event type")
    return event


__all__ = ["Applied", "Change", "Drained", "KafkaRecord", "LogRecord", "PartitionState", "Rejected", "through_of"]
