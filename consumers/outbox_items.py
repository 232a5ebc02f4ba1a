"""Decisions as outbox rows: what the effect runner must do or publish."""

from __future__ import annotations

import json

from adapters.store import OutboxItem
from schemas.outputs import Command, Output, RecoveryEvent


def command_payload(command: Command) -> str:
    """The command with the fields its public JSON leaves out (error, started_at, attempt)."""
    body = command.model_dump(mode="json", by_alias=True)
    body["error"] = command.error
    body["started_at"] = None if command.started_at is None else command.started_at.isoformat()
    body["attempt"] = command.attempt
    return json.dumps(body)


def outbox_items(outputs: list[Output], partition: int) -> list[OutboxItem]:
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
            items.append(
                OutboxItem(
                    output.event_id,
                    partition,
                    "recovery",
                    output.execution_id,
                    output.agent_name,
                    output.model_dump_json(by_alias=True),
                )
            )
    return items
