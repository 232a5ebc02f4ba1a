"""Which applied inputs become decision records, and what each record says."""

from __future__ import annotations

import json

from consumers.partition import Applied
from exec_watchdog.adapters.audit_store import DecisionRow
from schemas.inputs import CommandResult, InputEvent, LifecycleEvent, ProbeResult, Tick
from schemas.outputs import Output
from statemachine.ids import input_id
from statemachine.timestamps import to_micros

_WORTH_A_RECORD = frozenset({"execution.started", "execution.completed", "execution.failed", "execution.cancelled"})


def decision_rows(applied: list[Applied], partition: int, policy_digest: str) -> list[DecisionRow]:
    rows = []
    for a in applied:
        for change in a.changes:
            if not (change.outputs or change.before != change.after or _evidence(a.event) or a.time_note):
                continue  # a heartbeat that only moved time: its offset is enough
            rows.append(
                DecisionRow(
                    partition=partition,
                    source_topic=a.topic,
                    source_offset=a.offset,
                    execution_id=change.execution_id,
                    input_id=input_id(a.event),
                    input_type=a.event.type,
                    input_json=a.event.model_dump_json(exclude_none=True),
                    state_before=None if change.before is None else change.before.value,
                    state_after=None if change.after is None else change.after.value,
                    policy_digest=policy_digest,
                    outputs_json=_outputs_json(change.outputs),
                    at_us=event_time(a.event),
                    time_note=a.time_note,
                )
            )
    return rows


def _outputs_json(outputs: list[Output]) -> str:
    if not outputs:
        return "[]"
    return json.dumps([json.loads(o.model_dump_json(by_alias=True)) for o in outputs])


def _evidence(event: InputEvent) -> bool:
    if isinstance(event, LifecycleEvent):
        return event.type in _WORTH_A_RECORD
    return isinstance(event, ProbeResult | CommandResult)


def event_time(event: InputEvent) -> int:
    if isinstance(event, LifecycleEvent):
        return to_micros(event.occurred_at)
    if isinstance(event, Tick):
        return to_micros(event.now)
    return to_micros(event.observed_at)
