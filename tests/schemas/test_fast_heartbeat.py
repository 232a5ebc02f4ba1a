"""The heartbeat fast path takes a subset of what the full parser takes, and reads it the same way."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.decision_records import decision_rows
from consumers.partition import PartitionState
from exec_watchdog.adapters import snapshots
from schemas import InvalidInput, LifecycleEvent, parse_lifecycle
from schemas.fast_heartbeat import plain_heartbeat
from schemas.fields import EARLIEST_YEAR, EXECUTION_ID_PATTERN, LATEST_YEAR, whole_match
from schemas.log_records import LogRecord
from statemachine import Engine, Policy
from statemachine.timestamps import to_micros
from tests.events import at, lifecycle_json


class AnyId:
    """Tracked ids were validated when first seen: stand-in that tracks every id of the right shape."""

    def __contains__(self, execution_id: object) -> bool:
        return isinstance(execution_id, str) and whole_match(EXECUTION_ID_PATTERN).match(execution_id) is not None


VALID = {
    "schema_version": 1,
    "event_id": "hb-1",
    "type": "execution.heartbeat",
    "execution_id": "exec-1",
    "agent_name": "research-bot",
    "occurred_at": "2026-11-28T21:00:00.123456Z",
}

TRACKED = AnyId()
odd_text = st.text(st.characters(codec="utf-8"), max_size=12) | st.text("aZ9_.:-\n\t é", max_size=130)
timestamps = st.one_of(
    st.sampled_from(
        [
            "2026-11-28T21:00:00Z",
            "2026-11-28T21:00:00+00:00",
            "2026-11-28T21:00:00.1Z",
            "2026-11-28T21:00:00.1234567Z",
            "2026-11-28t21:00:00z",
            "2026-11-28T21:00:00+01:00",
            "2026-11-28T21:00:00-00:00",
            "2026-11-28T21:00:00",
            "2026-11-28T24:00:00Z",
            "2026-11-28T23:59:60Z",
            "2026-02-29T10:00:00Z",
            "2024-02-29T10:00:00Z",
            "0000-01-01T00:00:00Z",
            "2026-11-28T21:00:00Z\n",
            "2026-11-28 21:00:00Z",
        ]
    ),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    odd_text,
)
field_values = {
    "schema_version": st.sampled_from([1, 1.0, True, 2, "1", None]),
    "event_id": st.sampled_from(["hb-1", "", "e" * 128, "e" * 129]) | odd_text,
    "type": st.sampled_from(["execution.heartbeat", "execution.started", "watchdog.tick", ""]),
    "execution_id": st.sampled_from(["exec-1", "x" * 128, "x" * 129, "exec-1\n", ""]) | odd_text,
    "agent_name": st.sampled_from(["research-bot", "Research", "-bot", "b" * 63, "b" * 64, "bot\n"]) | odd_text,
    "occurred_at": timestamps,
    "timeout_seconds": st.sampled_from([None, 900, -1, "900"]),
    "attributes": st.sampled_from([None, {}, {"k": "v"}, ["list"], {"blob": "x" * 9000}]),
}


@st.composite
def records(draw: st.DrawFn) -> bytes:
    """A heartbeat with some fields changed, dropped or repeated, keys in any order."""
    pairs = []
    for name in draw(st.permutations(list(field_values))):
        if draw(st.integers(0, 9)) == 0:
            continue  # dropped
        value = draw(field_values[name]) if draw(st.integers(0, 3)) == 0 else VALID.get(name)
        pairs.append(f"{json.dumps(name)}: {json.dumps(value, ensure_ascii=draw(st.booleans()))}")
        if draw(st.integers(0, 19)) == 0:
            pairs.append(f"{json.dumps(name)}: {json.dumps(draw(field_values[name]))}")  # a duplicate key
    return ("{" + ", ".join(pairs) + "}").encode()


@settings(max_examples=3000, deadline=None)
@given(records())
def test_what_the_fast_path_takes_the_full_parser_takes_and_reads_alike(raw: bytes) -> None:
    fast = plain_heartbeat(raw, TRACKED)
    if fast is None:
        return
    event = parse_lifecycle(raw)  # raises if the fast path took a record the contract rejects
    assert event.type == "execution.heartbeat"
    assert fast == (
        event.execution_id,
        to_micros(event.occurred_at),
        event.agent_name,
        event.event_id,
    )


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(EARLIEST_YEAR, 1, 1),
        max_value=datetime(LATEST_YEAR, 12, 31, 23, 59, 59),
        timezones=st.just(UTC),
    ),
    st.from_regex(r"\A[A-Za-z0-9_.:-]{1,128}\Z").filter(lambda x: x not in (".", "..")),
    st.sampled_from([0, 1, 3, 6]),
)
def test_every_plain_heartbeat_takes_the_fast_path(moment: object, execution_id: str, digits: int) -> None:
    text = moment.isoformat(timespec="seconds" if digits == 0 else "microseconds")  # type: ignore[attr-defined]
    if digits not in (0, 6):
        text = text[: 20 + digits] + text[26:]
    raw = json.dumps({**VALID, "execution_id": execution_id, "occurred_at": text.replace("+00:00", "Z")}).encode()
    event = parse_lifecycle(raw)
    assert plain_heartbeat(raw, TRACKED) == (
        event.execution_id,
        to_micros(event.occurred_at),
        event.agent_name,
        event.event_id,
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"execution_id": "exec-1\n"},
        {"agent_name": "bot\n"},
        {"occurred_at": "2026-02-29T10:00:00Z"},
        {"occurred_at": "2026-11-28T24:00:00Z"},
        {"occurred_at": "2026-11-28T21:00:00Z\n"},
        {"attributes": {"blob": "x" * 9000}},
        {"timeout_seconds": -1},
        {"event_id": ""},
        {"schema_version": 2},
    ],
)
def test_a_bad_heartbeat_is_left_to_the_full_parser_which_names_the_field(changes: dict[str, object]) -> None:
    raw = json.dumps({**VALID, **changes}).encode()
    assert plain_heartbeat(raw, TRACKED) is None
    with pytest.raises(InvalidInput, match=next(iter(changes))):
        parse_lifecycle(raw)


def test_other_lifecycle_events_take_the_full_parser() -> None:
    for kind in ("started", "activity", "completed"):
        raw = lifecycle_json(kind, "exec-1", 0).encode()
        assert plain_heartbeat(raw, TRACKED) is None and isinstance(parse_lifecycle(raw), LifecycleEvent)


# ---- a partition decides the same with and without the fast path --------------------------------

step = st.one_of(
    st.tuples(st.sampled_from(["started", "heartbeat", "heartbeat", "activity", "completed"]), st.integers(0, 3)),
    st.tuples(st.just("bad heartbeat"), st.integers(0, 3)),
    st.tuples(st.just("tick"), st.integers(0, 3)),
)


def _tick(offset: int, seconds: float, through: int) -> LogRecord:
    now = json.dumps({"schema_version": 1, "type": "watchdog.tick", "now": at(seconds)}).encode()
    return LogRecord(offset, None, now, (("through", str(through).encode()),))


def _logs(steps: list[tuple[str, int]]) -> tuple[list[LogRecord], list[LogRecord]]:
    lifecycle: list[LogRecord] = []
    control: list[LogRecord] = []
    for n, (kind, which) in enumerate(steps):
        seconds, execution = n * 7, f"exec-{which}"
        if kind == "tick":
            control.append(_tick(len(control), seconds, len(lifecycle)))
            continue
        extra = {"agent_name": "Bad_Name"} if kind == "bad heartbeat" else {}
        value = lifecycle_json(kind.split()[-1], execution, seconds, **extra).encode()
        lifecycle.append(LogRecord(len(lifecycle), execution.encode(), value))
    control.append(_tick(len(control), len(steps) * 7, len(lifecycle)))
    return lifecycle, control


@settings(max_examples=300, deadline=None)
@given(st.lists(step, max_size=60))
def test_the_fast_path_changes_no_decision(steps: list[tuple[str, int]]) -> None:
    lifecycle, control = _logs(steps)
    results = []
    for keep_quiet in (True, False):
        policy = Policy(heartbeat_timeout_s=20, min_age_s=5, idle_after_s=60)
        partition = PartitionState(0, Engine(policy), lifecycle_topic="l", control_topic="c", keep_quiet=keep_quiet)
        partition.add_lifecycle(lifecycle, fetched_to=len(lifecycle))
        partition.add_control(control)
        drained = partition.drain()
        rows = decision_rows(drained.applied, 0, policy.digest)
        rejected = [(r.offset, r.reason) for r in drained.rejected]
        results.append((rows, rejected, snapshots.encode(partition.engine), len(drained.applied) + drained.quiet))
    assert results[0] == results[1]


def test_a_running_executions_heartbeats_are_counted_and_a_bad_one_still_goes_to_the_dlq() -> None:
    steps = [("started", 1), ("heartbeat", 1), ("bad heartbeat", 1), ("heartbeat", 1), ("heartbeat", 2)]
    lifecycle, control = _logs(steps)
    partition = PartitionState(0, Engine(Policy()), lifecycle_topic="l", control_topic="c", keep_quiet=False)
    partition.add_lifecycle(lifecycle, fetched_to=len(lifecycle))
    partition.add_control(control)
    drained = partition.drain()
    assert drained.quiet == 2  # exec-2 is unknown: its heartbeat takes the full path
    assert [(a.topic, a.offset) for a in drained.applied] == [("l", 0), ("l", 4), ("c", 0)]
    assert [(r.offset, r.reason.split(":")[0]) for r in drained.rejected] == [(2, "agent_name")]
    assert partition.engine.records["exec-1"].last_seen == partition.engine.records["exec-1"].started_at + 21_000_000


@pytest.mark.parametrize("keep_quiet", [True, False])
def test_a_heartbeat_clears_a_suspicion_on_either_path(keep_quiet: bool) -> None:
    lifecycle, control = _logs([("started", 0), ("tick", 0), ("tick", 0), ("tick", 0), ("heartbeat", 0)])
    policy = Policy(heartbeat_timeout_s=20, min_age_s=5)
    partition = PartitionState(0, Engine(policy), lifecycle_topic="l", control_topic="c", keep_quiet=keep_quiet)
    partition.add_lifecycle(lifecycle, fetched_to=len(lifecycle))
    partition.add_control(control)
    rows = decision_rows(partition.drain().applied, 0, policy.digest)
    assert [(r.state_before, r.state_after) for r in rows if r.input_type == "execution.heartbeat"] == [
        ("suspected", "running")
    ]
