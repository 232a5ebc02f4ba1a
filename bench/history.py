"""The benchmarks' input: lifecycle records of numbered executions, as the platform would write them."""

from __future__ import annotations

import json
from collections.abc import Iterator

from statemachine.timestamps import iso


def execution_id(n: int) -> str:
    return f"exec-{n:07d}"


def lifecycle_record(kind: str, n: int, at_us: int, event_id: str) -> bytes:
    """One `execution.KIND` event of execution number `n`, on one of 50 agents."""
    body = {
        "schema_version": 1,
        "event_id": event_id,
        "type": f"execution.{kind}",
        "execution_id": execution_id(n),
        "agent_name": f"bot-{n % 50}",
        "occurred_at": iso(at_us),
    }
    return json.dumps(body).encode()


def lifecycle_records(executions: int, start_us: int, beat_us: int) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) in the order a platform would write them: everyone starts, then nine beats."""
    for beat in range(10):
        for n in range(executions):
            kind = "started" if beat == 0 else "heartbeat"
            value = lifecycle_record(kind, n, start_us + beat * beat_us + n, f"e{n}-{beat}")
            yield execution_id(n).encode(), value
