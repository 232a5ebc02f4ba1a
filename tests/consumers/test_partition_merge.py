"""The order in which a partition's two logs are applied is a pure function of the logs."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.partition import PartitionState
from schemas.log_records import LogRecord
from statemachine import Engine, Policy
from tests.events import at, lifecycle_json

LIFE, CONTROL = "lifecycle", "control"


def state(**kw: int) -> PartitionState:
    return PartitionState(0, Engine(Policy(heartbeat_timeout_s=10)), lifecycle_topic=LIFE, control_topic=CONTROL, **kw)


def tick(offset: int, seconds: float, through: int) -> LogRecord:
    value = json.dumps({"schema_version": 1, "type": "watchdog.tick", "now": at(seconds)}).encode()
    return LogRecord(offset, None, value, (("through", str(through).encode()),))


def life(offset: int, kind: str, seconds: float, execution: str = "x-1") -> LogRecord:
    return LogRecord(offset, execution.encode(), lifecycle_json(kind, execution, seconds).encode())


def test_lifecycle_records_wait_for_a_control_record_that_vouches_for_them() -> None:
    s = state()
    s.add_lifecycle([life(0, "started", 0), life(1, "heartbeat", 5)], fetched_to=2)
    assert s.drain().applied == [] and s.waiting() == 2
    s.add_control([tick(0, 1, through=1)])
    applied = s.drain().applied
    assert [(a.topic, a.offset) for a in applied] == [(LIFE, 0), (CONTROL, 0)]
    assert (s.lifecycle_next, s.control_next) == (1, 1)


def test_a_tick_waits_until_the_lifecycle_records_before_it_are_read() -> None:
    s = state()
    s.add_lifecycle([life(0, "started", 0)], fetched_to=1)
    s.add_control([tick(0, 15, through=2)])
    assert s.drain().applied == []  # the heartbeat at offset 1 is not read yet: time must not move
    s.add_lifecycle([life(1, "heartbeat", 8)], fetched_to=2)
    drained = s.drain()
    assert [(a.topic, a.offset) for a in drained.applied] == [(LIFE, 0), (LIFE, 1), (CONTROL, 0)]
    assert drained.outputs == []  # last seen at 8 s: at 15 s it is not silent (timeout 10 s)


def test_invalid_records_are_rejected_with_their_place_and_skipped() -> None:
    s = state()
    s.add_lifecycle([LogRecord(0, b"k", b"{oops"), life(1, "started", 0)], fetched_to=2)
    s.add_control([LogRecord(0, None, lifecycle_json("started", "y", 0).encode(), (("through", b"2"),))])
    drained = s.drain()
    assert [(r.topic, r.offset) for r in drained.rejected] == [(LIFE, 0), (CONTROL, 0)]
    assert "not a control event type" in drained.rejected[1].reason
    assert [(a.topic, a.offset) for a in drained.applied] == [(LIFE, 1)]
    assert (s.lifecycle_next, s.control_next) == (2, 1)


def test_a_restored_partition_skips_what_its_snapshot_already_holds() -> None:
    s = state(lifecycle_offset=1, control_offset=1)
    s.add_lifecycle([life(0, "started", 0), life(1, "started", 1, "x-2")], fetched_to=2)
    s.add_control([tick(0, 1, through=1), tick(1, 2, through=2)])
    assert [(a.topic, a.offset) for a in s.drain().applied] == [(LIFE, 1), (CONTROL, 1)]


def _logs(n_life: int, throughs: list[int]) -> tuple[list[LogRecord], list[LogRecord]]:
    lifecycle = [life(i, "started" if i == 0 else "heartbeat", i * 3) for i in range(n_life)]
    running_max, control = 0, []
    for offset, through in enumerate(throughs):
        running_max = max(running_max, min(through, n_life))
        control.append(tick(offset, offset * 7 + 20, through=running_max))
    return lifecycle, control


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 15),
    st.lists(st.integers(0, 15), min_size=1, max_size=10),
    st.lists(st.tuples(st.booleans(), st.integers(1, 4)), min_size=1, max_size=40),
)
def test_any_fetch_pattern_applies_the_same_inputs_in_the_same_order(
    n_life: int, throughs: list[int], fetches: list[tuple[bool, int]]
) -> None:
    lifecycle, control = _logs(n_life, throughs)
    reference = state()
    reference.add_lifecycle(lifecycle, fetched_to=n_life)
    reference.add_control(control)
    expected = [(a.topic, a.offset, [o.model_dump_json() for o in a.outputs]) for a in reference.drain().applied]

    s, li, ci, seen = state(), 0, 0, []
    for from_lifecycle, size in [*fetches, (True, n_life), (False, len(control))]:
        if from_lifecycle:
            chunk, li = lifecycle[li : li + size], min(li + size, n_life)
            s.add_lifecycle(chunk, fetched_to=li)
        else:
            chunk, ci = control[ci : ci + size], min(ci + size, len(control))
            s.add_control(chunk)
        seen += [(a.topic, a.offset, [o.model_dump_json() for o in a.outputs]) for a in s.drain().applied]
    assert seen == expected
