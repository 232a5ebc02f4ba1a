"""Engine state as bytes and back: what a partition snapshot stores."""

from __future__ import annotations

import json
from collections import deque

from schemas.fields import State
from statemachine.brake import Brake
from statemachine.engine import Engine
from statemachine.policy import Policy
from statemachine.record import FIELD_NAMES, ExecutionRecord, field_values

_FIELDS = list(FIELD_NAMES)
_STATE_INDEX = _FIELDS.index("state")
_SEEN_INDEX = _FIELDS.index("seen_ids")
_STATES = {state.value: state for state in State}
FORMAT = 1


def encode(engine: Engine) -> bytes:
    rows = []
    for record in engine.records.values():
        row = list(field_values(record))
        row[_STATE_INDEX] = record.state.value
        row[_SEEN_INDEX] = record.seen_ids.hex()
        rows.append(row)
    brake = {
        "engaged_at": engine.brake.engaged_at,
        "recent": [list(r) for r in engine.brake.recent],
        "rechecking": sorted(engine.brake.rechecking),
    }
    body = {"format": FORMAT, "fields": _FIELDS, "clock": engine.clock, "brake": brake, "records": rows}
    return json.dumps(body).encode()


def decode(data: bytes, policy: Policy) -> Engine:
    body = json.loads(data)
    if body.get("format") != FORMAT:
        raise ValueError(f"snapshot format {body.get('format')!r} is not readable by this build (reads {FORMAT})")
    names: list[str] = body["fields"]
    records = []
    if names == _FIELDS:
        for row in body["records"]:
            row[_STATE_INDEX] = _STATES[row[_STATE_INDEX]]
            row[_SEEN_INDEX] = bytes.fromhex(row[_SEEN_INDEX])
            records.append(ExecutionRecord(*row))
    else:  # written by another build: match by name; fields added later take their defaults
        for row in body["records"]:
            values = dict(zip(names, row, strict=True))
            values["state"] = State(values["state"])
            if isinstance(values.get("seen_ids"), str):
                values["seen_ids"] = bytes.fromhex(values["seen_ids"])
            records.append(ExecutionRecord(**{k: v for k, v in values.items() if k in _FIELDS}))
    saved = body.get("brake") or {}
    recent = deque((int(t), str(x), str(a)) for t, x, a in saved.get("recent", []))
    brake = Brake(saved.get("engaged_at"), recent, set(saved.get("rechecking", [])))
    return Engine(policy, records, clock=body["clock"], brake=brake)
