"""`replay --what-if`: recorded history under another policy, without effects, and what would differ.

The recorded probe and command answers belong to the recorded decisions, so they are left out; the
new policy's commands are answered by an oracle built from the record: a probe finds the execution
running if it showed signs of life later, not found if the record shows its agent did not know it
and it was silent since, and unreachable otherwise (no verdict); terminate and mark_failed succeed.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

from exec_watchdog.audit.replay_run import PartitionHistory
from schemas.inputs import CommandResult, InputEvent, LifecycleEvent, ProbeResult
from schemas.log_records import LogRecord
from schemas.outputs import Command, Output, RecoveryEvent
from schemas.parsing import InvalidInput, parse_input
from statemachine.timestamps import iso, to_micros

MARKING = ("orphan_recovered", "auto_terminated")


@dataclass
class Truth:
    """What the recorded logs say about each execution, whatever was decided about it."""

    signs: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    ended: dict[str, tuple[str, int]] = field(default_factory=dict)
    unknown_to_agent: set[str] = field(default_factory=set)

    @staticmethod
    def of(lifecycle: list[LogRecord], control: list[LogRecord]) -> Truth:
        truth = Truth()
        for event in _events(lifecycle):
            if isinstance(event, LifecycleEvent):
                t = to_micros(event.occurred_at)
                truth.signs[event.execution_id].append(t)
                if event.type in ("execution.completed", "execution.failed", "execution.cancelled"):
                    truth.ended.setdefault(event.execution_id, (event.type, t))
        for event in _events(control):
            if isinstance(event, ProbeResult) and event.outcome == "not_found":
                truth.unknown_to_agent.add(event.execution_id)
        return truth

    def answer(self, command: Command) -> InputEvent:
        at = command.at
        if command.kind != "probe":
            return CommandResult.model_validate(
                {
                    "schema_version": 1,
                    "type": "watchdog.command_result",
                    "command_id": command.command_id,
                    "observed_at": at,
                    "outcome": "ok",
                }
            )
        t = to_micros(at)
        ended = self.ended.get(command.execution_id)
        alive_later = any(s > t for s in self.signs.get(command.execution_id, ())) or (
            ended is not None and ended[1] > t
        )
        outcome = (
            "running"
            if alive_later
            else "not_found"
            if command.execution_id in self.unknown_to_agent
            else "unreachable"
        )
        return ProbeResult.model_validate(
            {
                "schema_version": 1,
                "type": "watchdog.probe_result",
                "execution_id": command.execution_id,
                "agent_name": command.agent_name,
                "observed_at": at,
                "outcome": outcome,
            }
        )

    def respond(self, outputs: list[Output]) -> list[InputEvent]:
        return [self.answer(o) for o in outputs if isinstance(o, Command)]


def _events(records: list[LogRecord]) -> list[InputEvent]:
    events = []
    for record in records:
        try:
            events.append(parse_input(record.value or b""))
        except InvalidInput:
            continue
    return events


def is_answer(record: LogRecord) -> bool:
    """Recorded probe and command answers: left out of a what-if."""
    return b'"watchdog.probe_result"' in (record.value or b"") or b'"watchdog.command_result"' in (record.value or b"")


@dataclass
class Report:
    changes: dict[str, str]
    earlier: list[dict[str, object]] = field(default_factory=list)
    later: list[dict[str, object]] = field(default_factory=list)
    not_at_all: list[dict[str, object]] = field(default_factory=list)
    new: list[dict[str, object]] = field(default_factory=list)
    likely_false_positives: list[dict[str, object]] = field(default_factory=list)

    def add(self, recorded: list[PartitionHistory], what_if: list[PartitionHistory], truth: Truth) -> None:
        before = _marks_recorded(recorded)
        after = _marks_replayed(what_if)
        for x in sorted(set(before) | set(after)):
            old, new = before.get(x), after.get(x)
            if old and new:
                entry = {
                    "execution_id": x,
                    "action": new[0],
                    "recorded_at": iso(old[1]),
                    "what_if_at": iso(new[1]),
                    "delta_s": (new[1] - old[1]) / 1e6,
                }
                if new[1] < old[1]:
                    self.earlier.append(entry)
                elif new[1] > old[1]:
                    self.later.append(entry)
            elif old:
                self.not_at_all.append({"execution_id": x, "action": old[0], "recorded_at": iso(old[1])})
            elif new:
                entry = {"execution_id": x, "action": new[0], "what_if_at": iso(new[1])}
                self.new.append(entry)
                ended = truth.ended.get(x)
                if ended is not None and ended[0] == "execution.completed" and ended[1] > new[1]:
                    self.likely_false_positives.append({**entry, "completed_at": iso(ended[1])})

    def render(self) -> str:
        lines = ["what-if: " + ", ".join(f"{k}={v}" for k, v in self.changes.items())]
        for title, items in (
            ("recovered earlier", self.earlier),
            ("recovered later", self.later),
            ("no longer recovered", self.not_at_all),
            ("newly recovered", self.new),
            ("likely false positives (completed normally in the record)", self.likely_false_positives),
        ):
            lines.append(f"{title}: {len(items)}")
            lines += [f"  {json.dumps(item)}" for item in items]
        return "\n".join(lines)


def _marks_recorded(histories: list[PartitionHistory]) -> dict[str, tuple[str, int]]:
    found: dict[str, tuple[str, int]] = {}
    for h in histories:
        for row in h.recorded:
            for output in json.loads(row.outputs_json):
                if output.get("type") == "watchdog.recovery" and output["action"] in MARKING:
                    found.setdefault(row.execution_id, (output["action"], row.at_us))
    return found


def _marks_replayed(histories: list[PartitionHistory]) -> dict[str, tuple[str, int]]:
    found: dict[str, tuple[str, int]] = {}
    for h in histories:
        for applied in h.applied:
            for output in applied.outputs:
                if isinstance(output, RecoveryEvent) and output.action in MARKING:
                    found.setdefault(output.execution_id, (output.action, to_micros(output.decided_at)))
    return found
