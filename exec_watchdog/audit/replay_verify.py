"""`replay --verify`: the decisions the current code makes from the recorded inputs, against the record."""

from __future__ import annotations

import json
from dataclasses import dataclass

from consumers.decision_records import decision_rows
from exec_watchdog.adapters.audit_store import DecisionRow
from exec_watchdog.audit.replay_run import PartitionHistory

COMPARED = ("input_id", "state_before", "state_after", "policy_digest", "outputs_json", "time_note")


@dataclass(frozen=True, slots=True)
class Difference:
    partition: int
    recorded: DecisionRow | None
    replayed: DecisionRow | None

    def render(self) -> str:
        row = self.recorded or self.replayed
        assert row is not None
        where = f"{row.source_topic}/{self.partition}/{row.source_offset}, execution {row.execution_id}"
        lines = [f"first difference at {where}:", f"{'field':<14} {'recorded':<48} replayed"]
        for name in ("source", *COMPARED):
            left, right = _show(self.recorded, name), _show(self.replayed, name)
            mark = " " if left == right else "≠"
            lines.append(f"{mark}{name:<13} {left:<48} {right}")
        return "\n".join(lines)


def _show(row: DecisionRow | None, name: str) -> str:
    if row is None:
        return "(no decision)"
    if name == "source":
        return f"{row.source_topic}@{row.source_offset}"
    value = getattr(row, name)
    if name == "outputs_json":
        return "; ".join(_brief(o) for o in json.loads(value)) or "(none)"
    return str(value)


def _brief(output: dict[str, object]) -> str:
    if output["type"] == "transition":
        return f"{output['from']}→{output['to']}"
    if output["type"] == "command":
        return f"{output['kind']} {str(output['command_id'])[:8]}"
    return f"{output['action']} {str(output['event_id'])[:8]}"


def first_difference(
    history: PartitionHistory, *, execution_id: str | None = None, since_us: int | None = None
) -> Difference | None:
    replayed: list[DecisionRow] = []
    for applied, digest in zip(history.applied, history.digests, strict=True):
        replayed += decision_rows([applied], history.partition, digest)
    recorded = [r for r in history.recorded if r.source_offset >= _start_offset(r, history)]

    def wanted(row: DecisionRow) -> bool:
        return (execution_id is None or row.execution_id == execution_id) and (
            since_us is None or row.at_us >= since_us
        )

    recorded = [r for r in recorded if wanted(r)]
    replayed = [r for r in replayed if wanted(r)]
    for index in range(max(len(recorded), len(replayed))):
        left = recorded[index] if index < len(recorded) else None
        right = replayed[index] if index < len(replayed) else None
        if left is None or right is None or _key(left) != _key(right):
            return Difference(history.partition, left, right)
    return None


def _start_offset(row: DecisionRow, history: PartitionHistory) -> int:
    if row.source_topic == history.lifecycle_topic:
        return history.start.lifecycle_offset
    return history.start.control_offset


def _key(row: DecisionRow) -> tuple[object, ...]:
    return (row.source_topic, row.source_offset, row.execution_id, *(getattr(row, n) for n in COMPARED))
