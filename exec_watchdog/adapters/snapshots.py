"""Engine state as bytes and back: what a partition snapshot stores.

Two forms. A *whole* snapshot (format 1) is one JSON document: checkpoints for replays keep it. The
service's own snapshot is *incremental* (format 2): a small header (clock, brake, the gaps taken out)
plus one row per execution in the store, and each snapshot writes only the rows of executions that
changed since the last one (`changes`). A row is the same JSON list a whole snapshot holds, with the
engine's `shifted` at the time it was written: a gap in the watch moves every record in memory, and
rows written before it are moved by the difference when they are read (`decode`), not rewritten.
"""

from __future__ import annotations

import gc
import hashlib
import inspect
import json
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import starmap
from typing import Any

import msgspec

from schemas.fields import State
from statemachine import policy as policy_module
from statemachine import rules
from statemachine.brake import Brake
from statemachine.engine import Engine
from statemachine.policy import Policy
from statemachine.record import FIELD_NAMES, TIME_FIELDS, ExecutionRecord, field_values

_FIELDS = list(FIELD_NAMES)
_STATE_INDEX = _FIELDS.index("state")
_SEEN_INDEX = _FIELDS.index("seen_ids")
_TIME_INDEXES = [_FIELDS.index(name) for name in TIME_FIELDS]
_STATES = {state.value: state for state in State}
_decode_rows = msgspec.json.Decoder(list[list[Any]]).decode
_encode_row = msgspec.json.Encoder().encode  # an enum (the state) is written as its value
FORMAT = 1
ROWS_FORMAT = 2


@dataclass(frozen=True, slots=True)
class Changes:
    """What an incremental snapshot writes: the header, and the rows of the executions that changed."""

    header: bytes
    rows: dict[str, str | None]
    """Execution id -> its row (JSON), or None: forgotten, its row goes."""
    full: bool
    """`rows` holds every record: the stored rows are replaced."""
    shifted: int


@dataclass(frozen=True, slots=True)
class RowChunk:
    """Stored rows read together: their JSON lists joined by commas, and each one's `shifted`."""

    joined: str
    shifted: list[int]


def row_json(record: ExecutionRecord) -> str:
    """One record as a JSON list, its fields in `FIELD_NAMES` order (the state by its value, the event-id
    window in hex). msgspec writes it: a third of what `json.dumps` takes, the same JSON values."""
    row = list(field_values(record))
    row[_SEEN_INDEX] = record.seen_ids.hex()
    return _encode_row(row).decode()


def _head(engine: Engine, form: int) -> dict[str, object]:
    brake = {
        "engaged_at": engine.brake.engaged_at,
        "recent": [list(r) for r in engine.brake.recent],
        "rechecking": sorted(engine.brake.rechecking),
    }
    return {
        "format": form,
        "fields": _FIELDS,
        "clock": engine.clock,
        "brake": brake,
        "shifted": engine.shifted,
        "armed_under": _armed_under(engine.policy),
    }


def encode(engine: Engine) -> bytes:
    """A whole snapshot: every record in one document."""
    body = _head(engine, FORMAT)
    rows = ",".join(row_json(record) for record in engine.records.values())
    return f'{json.dumps(body)[:-1]}, "records": [{rows}]}}'.encode()


def changes(engine: Engine) -> Changes:
    """The rows to write since the last call (every row after a restore from a whole snapshot, or a
    first tick), and the header; the engine's change set starts afresh."""
    records, full = engine.records, engine.all_changed
    if full:
        rows: dict[str, str | None] = {x: row_json(r) for x, r in records.items()}
    else:
        rows = {x: (row_json(records[x]) if x in records else None) for x in engine.changed}
    engine.changed = set()
    engine.all_changed = False
    return Changes(json.dumps(_head(engine, ROWS_FORMAT)).encode(), rows, full, engine.shifted)


def decode(data: bytes, policy: Policy, rows: Iterable[RowChunk] = ()) -> Engine:
    """An engine from a whole snapshot, or from a header and its stored rows."""
    body = json.loads(data)
    form = body.get("format")
    if form not in (FORMAT, ROWS_FORMAT):
        raise ValueError(f"snapshot format {form!r} is not readable by this build (reads {FORMAT}, {ROWS_FORMAT})")
    shifted = int(body.get("shifted", 0))
    if form == FORMAT:
        chunks: Iterable[tuple[list[list[Any]], list[int]]] = [(body["records"], [shifted] * len(body["records"]))]
    else:
        chunks = _parsed(rows)
    saved = body.get("brake") or {}
    recent = deque((int(t), str(x), str(a)) for t, x, a in saved.get("recent", []))
    brake = Brake(saved.get("engaged_at"), recent, set(saved.get("rechecking", [])))
    records = _records(body["fields"], chunks, shifted)
    with _building():
        under = _armed_under(policy)
        armed = under is not None and body.get("armed_under") == under  # else every deadline is computed again
        engine = Engine(policy, records, clock=body["clock"], brake=brake, own=True, armed=armed)
    engine.shifted = shifted
    engine.all_changed = form == FORMAT  # restored from rows: they are in the store already
    return engine


def _arming_code() -> str | None:
    """A fingerprint of the code that sets deadlines (`rules.next_due` and the policy's conversions):
    deadlines stored by a build whose rules differ are computed again, not trusted. None when the
    source cannot be read (then no stored deadline is trusted)."""
    try:
        text = inspect.getsource(rules) + inspect.getsource(policy_module)
    except (OSError, TypeError):
        return None
    return hashlib.sha256(text.encode()).hexdigest()[:16]


_ARMING_CODE = _arming_code()


def _armed_under(policy: Policy) -> str | None:
    """What the stored `armed_at` of a snapshot's records were computed under: the policy's values and
    the deadline code."""
    return None if _ARMING_CODE is None else f"{policy.digest}/{_ARMING_CODE}"


@contextmanager
def _building() -> Iterator[None]:
    """A restore builds many objects that live for as long as their executions run: the cycle collector
    is held off meanwhile (it would scan them all again and again) and shown them no more after (they
    make no cycles; reference counting still frees each one when its execution is forgotten)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.freeze()


def _parsed(chunks: Iterable[RowChunk]) -> Iterator[tuple[list[list[Any]], list[int]]]:
    """Stored rows parsed a chunk at a time (one decode per chunk, not per row), with their `shifted`."""
    for chunk in chunks:
        yield _decode_rows(f"[{chunk.joined}]"), chunk.shifted


def _records(
    names: list[str], chunks: Iterable[tuple[list[list[Any]], list[int]]], shifted: int
) -> Iterator[ExecutionRecord]:
    if names != _FIELDS:  # written by another build: match by name; fields added later take their defaults
        yield from _records_by_name(names, chunks, shifted)
        return
    state_at, seen_at, states, fromhex, times = _STATE_INDEX, _SEEN_INDEX, _STATES, bytes.fromhex, _TIME_INDEXES
    for rows, shifts in chunks:
        for row, at in zip(rows, shifts, strict=True):
            if at != shifted:
                _move(row, times, shifted - at)
            row[state_at] = states[row[state_at]]
            row[seen_at] = fromhex(row[seen_at])
        yield from starmap(ExecutionRecord, rows)


def _records_by_name(
    names: list[str], chunks: Iterable[tuple[list[list[Any]], list[int]]], shifted: int
) -> Iterator[ExecutionRecord]:
    times = [names.index(n) for n in TIME_FIELDS if n in names]
    for rows, shifts in chunks:
        for row, at in zip(rows, shifts, strict=True):
            _move(row, times, shifted - at)
            values = dict(zip(names, row, strict=True))
            values["state"] = State(str(values["state"]))
            if isinstance(values.get("seen_ids"), str):
                values["seen_ids"] = bytes.fromhex(str(values["seen_ids"]))
            yield ExecutionRecord(**{k: v for k, v in values.items() if k in _FIELDS})


def _move(row: list[object], times: list[int], delta: int) -> None:
    if delta:
        for i in times:
            value = row[i]
            if isinstance(value, int):
                row[i] = value + delta


def whole_from_rows(header: bytes, rows: Iterable[tuple[str, int]]) -> bytes:
    """A whole snapshot (for a checkpoint) from an incremental one's header and stored rows: rows are
    joined as they are, and only those written before a gap are read and moved."""
    body = json.loads(header)
    shifted = int(body.get("shifted", 0))
    body["format"] = FORMAT
    parts = []
    for row, at in rows:
        if at != shifted:
            values = json.loads(row)
            _move(values, _TIME_INDEXES, shifted - at)
            row = json.dumps(values)
        parts.append(row)
    return f'{json.dumps(body)[:-1]}, "records": [{",".join(parts)}]}}'.encode()
