"""`exec-watchdog status`: what every running instance thinks right now, read from the store.

Each instance writes its status document every `SNAPSHOT_INTERVAL_S` (`exec_watchdog.telemetry.status`)
and removes it when it stops; one not written for three intervals (and at least 30 s) is shown as
stale: the instance may be gone. Reading costs a few rows, whatever the number of executions.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from exec_watchdog.adapters.status_store import StatusRow
from exec_watchdog.telemetry.status import InstanceStatus
from statemachine.timestamps import iso, to_micros


def status_json(group_id: str, rows: list[StatusRow], interval_s: float, now_us: int | None = None) -> str:
    instances: list[dict[str, Any]] = [
        {"stale": _stale(age_s, interval_s), "age_s": round(age_s, 3), **json.loads(row.document)}
        for row, _, age_s in _read(rows, now_us)
    ]
    return json.dumps({"group_id": group_id, "instances": instances}, indent=2)


def render_status(group_id: str, rows: list[StatusRow], interval_s: float, now_us: int | None = None) -> str:
    read = _read(rows, now_us)
    if not read:
        return f"group {group_id}: no instance is running (none has written its status)"
    lines = [f"group {group_id}: {len(read)} instance(s)"]
    for _, doc, age_s in read:
        lines += ["", *_instance_lines(doc, age_s, _stale(age_s, interval_s))]
    return "\n".join(lines)


def _read(rows: list[StatusRow], now_us: int | None) -> list[tuple[StatusRow, InstanceStatus, float]]:
    now = time.time_ns() // 1000 if now_us is None else now_us
    return [(r, InstanceStatus.model_validate_json(r.document), max(0.0, (now - r.written_at_us) / 1e6)) for r in rows]


def _stale(age_s: float, interval_s: float) -> bool:
    return age_s > max(3 * interval_s, 30.0)


def _instance_lines(doc: InstanceStatus, age_s: float, stale: bool) -> list[str]:
    written = f"written {age_s:.1f} s ago" + ("; STALE: the instance may be gone" if stale else "")
    partitions = ",".join(str(p) for p in doc.partitions) or "none"
    lines = [f"instance {doc.instance_id} ({written}), partitions {partitions}"]
    lines.append("  executions: " + ", ".join(f"{state} {n}" for state, n in doc.counts.items()))
    incident = doc.incident_since
    lines.append("  incident: " + ("none" if incident is None else f"the brake holds since {_time(incident)}"))
    lag = sum(doc.lag.values())
    lines.append(f"  consumer lag: {lag}" + (f" ({', '.join(f'p{p} {n}' for p, n in doc.lag.items())})" if lag else ""))
    if doc.unreachable_agents:
        lines.append("  unreachable agents:")
        for agent in doc.unreachable_agents:
            since = "" if agent.since is None else f" since {_time(agent.since)}"
            lines.append(f"    {agent.agent_name}{since}: {agent.why or 'cause not seen by this instance'}")
    if doc.executions:
        lines.append("  suspected, idle, confirmed orphan:")
        for x in doc.executions:
            since = "since before this instance took its partition" if x.since is None else f"since {_time(x.since)}"
            held = " HELD by the brake" if x.held else ""
            why = "" if x.why is None else f": {x.why}"
            lines.append(f"    {x.state.value:<16} {x.execution_id} on {x.agent_name}, {since}{held}{why}")
        if doc.unlisted:
            lines.append(f"    ... and {doc.unlisted} more")
    return lines


def _time(moment: datetime) -> str:
    return iso(to_micros(moment))
