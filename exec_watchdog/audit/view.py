"""`exec-watchdog audit EXECUTION_ID`: why was it decided, from the store alone, in plain language."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from exec_watchdog.adapters.agent_api import Evidence
from exec_watchdog.adapters.store import Store
from statemachine.timestamps import iso


class Entry(BaseModel):
    at: str
    source: str
    input_type: str
    input_id: str
    state_before: str | None
    state_after: str | None
    policy_digest: str
    outputs: list[dict[str, Any]]
    time_note: str | None = None


class Effect(BaseModel):
    kind: str
    id: str
    status: str
    outcome: str | None
    observed_at: str | None
    evidence: str | None = None


class Timeline(BaseModel):
    execution_id: str
    agent_name: str | None
    state: str | None
    entries: list[Entry]
    effects: list[Effect]
    policies: dict[str, dict[str, Any]]


def timeline(store: Store, execution_id: str) -> Timeline | None:
    rows = store.audit.for_execution(execution_id)
    if not rows:
        return None
    entries = [
        Entry(
            at=iso(r.at_us),
            source=f"{r.source_topic}/{r.partition}/{r.source_offset}",
            input_type=r.input_type,
            input_id=r.input_id,
            state_before=r.state_before,
            state_after=r.state_after,
            policy_digest=r.policy_digest,
            outputs=json.loads(r.outputs_json),
            time_note=r.time_note,
        )
        for r in rows
    ]
    effects = [
        Effect(
            kind=o.kind,
            id=o.id,
            status=o.status,
            outcome=o.outcome,
            observed_at=None if o.observed_at_us is None else iso(o.observed_at_us),
            evidence=o.evidence,
        )
        for o in store.outbox_rows(execution_id)
        if o.kind != "audit"
    ]
    agent = next((json.loads(r.input_json).get("agent_name") for r in rows if "agent_name" in r.input_json), None)
    policies = {}
    for digest in dict.fromkeys(r.policy_digest for r in rows):
        values = store.audit.policy(digest)
        policies[digest] = {} if values is None else json.loads(values)
    return Timeline(
        execution_id=execution_id,
        agent_name=agent,
        state=rows[-1].state_after,
        entries=entries,
        effects=effects,
        policies=policies,
    )


def render(t: Timeline) -> str:
    lines = [f"execution {t.execution_id} on agent {t.agent_name or '?'}: now {t.state or 'forgotten'}", ""]
    for e in t.entries:
        moved = f"{e.state_before or '—'} → {e.state_after or '—'}" if e.state_before != e.state_after else ""
        lines.append(f"{e.at}  {e.input_type:<24} {moved}")
        lines.append(f"{'':22}input {e.input_id} from {e.source}, policy {e.policy_digest}")
        if e.time_note is not None:
            lines.append(f"{'':22}time not taken as claimed: {e.time_note}")
        for o in e.outputs:
            lines.append(f"{'':22}{_describe(o)}")
    if t.effects:
        lines += ["", "effects:"]
        for f in t.effects:
            outcome = f"{f.outcome} at {f.observed_at}" if f.outcome else f.status
            lines.append(f"  {f.kind:<12} {f.id[:40]:<40} {outcome}")
            if f.evidence is not None:
                lines += _evidence_lines(Evidence.from_json(f.evidence))
    lines += ["", "thresholds in force:"]
    for digest, values in t.policies.items():
        shown = ", ".join(f"{k.upper()}={v}" for k, v in values.items())
        lines.append(f"  {digest}: {shown}")
    return "\n".join(lines)


def _evidence_lines(evidence: Evidence) -> list[str]:
    lines = []
    if evidence.unreachable is not None:
        lines.append(f"  {'':12} the agent did not answer: {evidence.unreachable}")
    if evidence.last_error is not None:
        last = evidence.last_error
        said = f"{last.error_type or 'error'}: {last.error_message}"
        lines.append(f"  {'':12} the agent's last error before it was sent: {said}")
    if evidence.log_tail:
        lines.append(f"  {'':12} the last {len(evidence.log_tail)} entries of its log before it was sent:")
        lines += [f"  {'':14} {entry}" for entry in evidence.log_tail]
    return lines


def _describe(o: dict[str, Any]) -> str:
    if o["type"] == "transition":
        return f"→ {o['from']} → {o['to']}: {o['cause']}"
    if o["type"] == "command":
        return f"→ command {o['kind']} ({o['command_id']})"
    text = f"→ recovery {o['action']}: {o['reason']}"
    return text + (f" — error: {o['error']}" if o.get("error") else "")
