"""Every record ends applied or dead-lettered: no bytes up to the size limit stop the partition.

Records go through the real partition path (`PartitionState`: the fast heartbeat path, the parsers,
the engine), then through what the service does next with them (decision records for the audit,
DLQ headers). The seeds in `hostile_corpus/` cover deep nesting, extreme and odd times, huge
numbers, odd Unicode and path-like ids; hypothesis mutates valid events and draws raw bytes.
`FUZZ_SECONDS=600 python -m pytest -q tests/consumers/test_hostile_records.py -k long` fuzzes for that long.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumers.decision_records import decision_rows
from consumers.partition import Drained, PartitionState
from schemas import parse_lifecycle
from schemas.log_records import LogRecord
from schemas.parsing import MAX_RECORD_BYTES
from statemachine import Engine, Policy
from tests.events import at

CORPUS = sorted((Path(__file__).parent / "hostile_corpus").glob("*.bin"))
LIFE, CONTROL = "lifecycle", "control"
VALID = {
    "schema_version": 1,
    "event_id": "v-1",
    "type": "execution.started",
    "execution_id": "x-1",
    "agent_name": "bot-1",
    "occurred_at": "2026-12-01T00:00:00Z",
}


def through_the_partition(records: list[bytes], as_control: bool = False) -> Drained:
    """Lifecycle records, then a tick vouching for them (or the records as control records)."""
    state = PartitionState(0, Engine(Policy(heartbeat_timeout_s=10)), lifecycle_topic=LIFE, control_topic=CONTROL)
    state.engine.apply(parse_lifecycle(json.dumps({**VALID, "event_id": "seed"})))  # something tracked
    tick = json.dumps({"schema_version": 1, "type": "watchdog.tick", "now": at(3600)}).encode()
    if as_control:
        state.add_control([LogRecord(n, None, value) for n, value in enumerate(records)])
    else:
        state.add_lifecycle([LogRecord(n, b"k", value) for n, value in enumerate(records)], fetched_to=len(records))
        state.add_control([LogRecord(0, None, tick, (("through", str(len(records)).encode()),))])
    drained = state.drain()
    decision_rows(drained.applied, 0, "policy")  # the audit's rows are made of every applied input
    for rejected in drained.rejected:
        rejected.reason.encode()  # the DLQ's `error` header
    return drained


def accounted_for(drained: Drained, count: int, topic: str) -> bool:
    seen = {a.offset for a in drained.applied if a.topic == topic} | {r.offset for r in drained.rejected}
    quiet = drained.quiet  # plain heartbeats of tracked executions, applied on the fast path
    return len(seen) + quiet == count


def test_the_corpus_covers_each_kind_of_hostile_record() -> None:
    names = {p.stem for p in CORPUS}
    assert {"deep_attributes", "time_overflows_utc", "version_huge_int", "unicode_lone_surrogate", "id_dotdot"} <= names
    assert all(len(p.read_bytes()) <= MAX_RECORD_BYTES for p in CORPUS)


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_each_seed_is_applied_or_dead_lettered_on_either_log(path: Path) -> None:
    data = path.read_bytes()
    for as_control in (False, True):
        drained = through_the_partition([data], as_control=as_control)
        assert accounted_for(drained, 1, CONTROL if as_control else LIFE)


@pytest.mark.parametrize(
    ("seed", "field"),
    [
        ("deep_attributes", "record"),
        ("deep_whole", "record"),
        ("time_overflows_utc", "occurred_at"),
        ("time_underflows_utc", "occurred_at"),
        ("time_year_3000", "occurred_at"),
        ("id_dot", "execution_id"),
        ("id_dotdot", "execution_id"),
        ("id_newline", "execution_id"),
        ("version_huge_int", "record"),
    ],
)
def test_named_hostile_records_are_refused_naming_the_field(seed: str, field: str) -> None:
    drained = through_the_partition([(Path(__file__).parent / "hostile_corpus" / f"{seed}.bin").read_bytes()])
    assert [r.reason.split(":")[0] for r in drained.rejected] == [field]


def test_ids_with_dots_that_are_not_dot_segments_are_accepted() -> None:
    for execution_id in ("...", ".a", "a.", "a..b", "x"):
        assert parse_lifecycle(json.dumps({**VALID, "execution_id": execution_id})).execution_id == execution_id


def _nested(inner: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner)


_EXTREMES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=60),
    st.sampled_from(["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+12:00", "2026-12-01T24:00:00Z"]),
    st.sampled_from([".", "..", "\ud800", "\u202e", "\x00"]),
    st.recursive(st.integers(), _nested),
)
_MUTATED = st.builds(
    lambda key, value, kind: json.dumps({**VALID, "type": kind, key: value}).encode(),
    st.sampled_from([*VALID, "timeout_seconds", "attributes", "now", "outcome", "observed_at", "command_id"]),
    _EXTREMES,
    st.sampled_from(["execution.started", "execution.heartbeat", "execution.activity", "watchdog.tick"]),
)
_RECORDS = st.lists(
    st.one_of(st.binary(max_size=300), _MUTATED, st.sampled_from([p.read_bytes() for p in CORPUS])), max_size=20
)


def _property(records: list[bytes]) -> None:
    assert accounted_for(through_the_partition(records), len(records), LIFE)
    assert accounted_for(through_the_partition(records, as_control=True), len(records), CONTROL)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(_RECORDS)
def test_any_bytes_are_applied_or_dead_lettered(records: list[bytes]) -> None:
    _property(records)


@pytest.mark.skipif(not os.environ.get("FUZZ_SECONDS"), reason="the long fuzz run: set FUZZ_SECONDS")
def test_long_fuzz_run() -> None:
    """Fresh random examples, round after round, until FUZZ_SECONDS have passed; prints what it tried."""
    deadline = time.monotonic() + float(os.environ["FUZZ_SECONDS"])
    tried = 0

    @settings(max_examples=500, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(_RECORDS)
    def round_(records: list[bytes]) -> None:
        nonlocal tried
        tried += len(records)
        _property(records)

    rounds = 0
    while time.monotonic() < deadline:
        round_()
        rounds += 1
    print(f"\nfuzz: {rounds} rounds, {tried} records through the partition path, no crash")
