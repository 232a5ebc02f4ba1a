"""Decisions as outbox rows: what the effect runner must do or publish."""

from __future__ import annotations

import json

from exec_watchdog.adapters.audit_store import DecisionRow
from exec_watchdog.adapters.store import OutboxItem
from exec_watchdog.adapters.trinity_redis import ui_payload
from exec_watchdog.adapters.trinity_time import trinity_time
from schemas.outputs import Command, Output, RecoveryEvent


def command_payload(command: Command) -> str:
    """The command with the fields its public JSON leaves out (error, attempt)."""
    body = command.model_dump(mode="json", by_alias=True)
    body["error"] = command.error
    body["attempt"] = command.attempt
    return json.dumps(body)


MARKING_ACTIONS = frozenset({"orphan_recovered", "auto_terminated"})


def outbox_items(
    outputs: list[Output], partition: int, *, redis: bool = False, webhook: bool = False
) -> list[OutboxItem]:
    """Commands and recovery events, plus what follows a recovery on the platform: with Trinity's Redis,
    the slot release and the UI event of an execution marked failed; with a webhook, its delivery."""
    items = []
    for output in outputs:
        if isinstance(output, Command):
            items.append(
                OutboxItem(
                    f"{output.command_id}#{output.attempt}",
                    partition,
                    output.kind,
                    output.execution_id,
                    output.agent_name,
                    command_payload(output),
                )
            )
        elif isinstance(output, RecoveryEvent):
            event = output.model_dump_json(by_alias=True)
            x, agent = output.execution_id, output.agent_name
            items.append(OutboxItem(output.event_id, partition, "recovery", x, agent, event))
            if webhook:
                items.append(OutboxItem(f"webhook/{output.event_id}", partition, "webhook", x, agent, event))
            if redis and output.action in MARKING_ACTIONS:
                ui = ui_payload(agent, x, output.action, output.reason, trinity_time(output.decided_at))
                items.append(OutboxItem(f"slot/{output.event_id}", partition, "release_slot", x, agent, "{}"))
                items.append(OutboxItem(f"ui/{output.event_id}", partition, "ui_event", x, agent, ui))
    return items


def decision_json(r: DecisionRow) -> str:
    """The audit record of one decision (the audit lane publishes it). Its input and outputs are
    stored as JSON already: they are embedded as they are, not parsed and written again."""
    head = json.dumps(
        {
            "type": "watchdog.decision",
            "execution_id": r.execution_id,
            "source": f"{r.source_topic}/{r.partition}/{r.source_offset}",
            "input_id": r.input_id,
        }
    )
    after = {"state_before": r.state_before, "state_after": r.state_after, "policy_digest": r.policy_digest}
    if r.time_note is not None:
        after["time_note"] = r.time_note
    tail = json.dumps(after)
    return f'{head[:-1]}, "input": {r.input_json}, {tail[1:-1]}, "outputs": {r.outputs_json}}}'
