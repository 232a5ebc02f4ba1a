"""The benchmarks' input: one `started` and nine heartbeats per execution, as JSON records."""

from __future__ import annotations

import json
from collections.abc import Iterator

from statemachine.timestamps import iso


def lifecycle_records(executions: int, start_us: int, beat_us: int) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) in the order a platform would write them: everyone starts, then nine beats."""
    for beat in range(10):
        for n in range(executions):
            kind = "started" if beat == 0 else "heartbeat"
            execution_id = f"exec-{n:07d}"
            body = {
                "schema_version": 1,
                "event_id": f"e{n}-{beat}",
                "type": f"execution.{kind}",
                "execution_id": execution_id,
                "agent_name": f"bot-{n % 50}",
                "occurred_at": iso(start_us + beat * beat_us + n),
            }
            yield execution_id.encode(), json.dumps(body).encode()
