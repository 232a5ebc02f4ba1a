"""Deterministic ids: the same decision gets the same id in any process, on any replay."""

from __future__ import annotations

import uuid

from schemas.inputs import InputEvent, ProbeResult, Tick

_NAMESPACE = uuid.UUID("6f1c0c52-8e0b-5bd4-9a35-0d5f3b0e7c21")


def command_id(execution_id: str, seq: int, kind: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"command/{execution_id}/{seq}/{kind}"))


def recovery_event_id(execution_id: str, seq: int, action: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"recovery/{execution_id}/{seq}/{action}"))


def derived_input_id(*parts: str) -> str:
    """An id for a control event that carries none of its own, from its content."""
    return str(uuid.uuid5(_NAMESPACE, "input/" + "/".join(parts)))


def input_id(event: InputEvent) -> str:
    """The id an input is known by in `caused_by` and the audit: its own, or one derived from it."""
    if event.event_id is not None:
        return event.event_id
    if isinstance(event, Tick):
        return derived_input_id(event.type, event.now.isoformat())
    if isinstance(event, ProbeResult):
        return derived_input_id(event.type, event.execution_id, event.observed_at.isoformat(), event.outcome)
    return derived_input_id(event.type, event.command_id, event.observed_at.isoformat(), event.outcome)
