"""Engine state as bytes and back: what a partition snapshot stores."""

from __future__ import annotations

import json
from dataclasses import astuple, fields

from schemas.fields import State
from statemachine.engine import Engine
from statemachine.policy import Policy
from statemachine.record import ExecutionRecord

_FIELDS = [f.name for f in fields(ExecutionRecord)]
_STATE_INDEX = _FIELDS.index("state")
FORMAT = 1


def encode(engine: Engine) -> bytes:
    rows = []
    for record in engine.records.values():
        row = list(astuple(record))
        row[_STATE_INDEX] = record.state.value
        rows.append(row)
    return json.dumps({"format": FORMAT, "fields": _FIELDS, "clock": engine.clock, "records": rows}).encode()


def decode(data: bytes, policy: Policy) -> Engine:
    body = json.loads(data)
    if body.get("format") != FORMAT:
        raise ValueError(f"snapshot format {body.get('format')!r} is not readable by this build (reads {FORMAT})")
    names: list[str] = body["fields"]
    records = []
    for row in body["records"]:
        values = dict(zip(names, row, strict=True))
        values["state"] = State(values["state"])
        records.append(ExecutionRecord(**{k: v for k, v in values.items() if k in _FIELDS}))
    return Engine(policy, records, clock=body["clock"])
