"""A crash at any step of a batch never leaves a snapshot without that batch's outbox rows.

The shutdown path snapshots what it owns; a batch that failed before its write was handed off (or
whose write failed) must not be in that snapshot, or a `mark_failed` it decided is never executed.
Each step between draining a batch and writing it is made to fail in turn; the service is then
stopped the way it stops, restarted on the same store, and the log read again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition

import consumers.partitioned as partitioned
from consumers.partitioned import PartitionedConsumer
from exec_watchdog.adapters import snapshots
from exec_watchdog.adapters.store import Store
from schemas.log_records import THROUGH_HEADER, LogRecord
from statemachine import Policy
from tests.consumers.stubs import CONTROL, LIFE, consumer
from tests.events import as_json, at, lifecycle_json, probe, tick

X = "orphan-1"
POLICY = Policy(heartbeat_timeout_s=30, min_age_s=0)


def control(offset: int, body: str, through: int) -> LogRecord:
    return LogRecord(offset, X.encode(), body.encode(), ((THROUGH_HEADER, str(through).encode()),))


LIFECYCLE = [
    LogRecord(0, X.encode(), lifecycle_json("started", X, 0).encode()),
    LogRecord(1, b"k", b"not json: dead-lettered in the second batch"),
]
CONTROLS = [
    *(control(n, as_json(tick(5 * n)), 1) for n in range(7)),  # silent for 30 s: suspected, probed
    control(7, as_json(probe(X, 31, "not_found")), 2),  # the agent does not know it: mark_failed
]
BATCHES = [(LIFECYCLE[:1], CONTROLS[:7]), (LIFECYCLE[1:], CONTROLS[7:])]


def commands(store: Store) -> list[str]:
    return [r.kind for r in store.outbox_rows(X) if r.kind in ("probe", "terminate", "mark_failed")]


async def feed(c: PartitionedConsumer, batches: list[tuple[list[LogRecord], list[LogRecord]]]) -> None:
    for lifecycle, controls in batches:
        c.consumer.fetched = lifecycle[-1].offset + 1  # type: ignore[attr-defined]
        await c._process(
            {TopicPartition(LIFE, 0): lifecycle, TopicPartition(CONTROL, 0): controls}  # type: ignore[dict-item]
        )
        await c.written()


class Injected(Exception):
    pass


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise Injected


async def _async_boom(*args: Any, **kwargs: Any) -> Any:
    raise Injected


STEPS = {
    "dead-letter publish": lambda c, mp: mp.setattr(c.publisher, "dead_letter", _async_boom),
    "metrics": lambda c, mp: mp.setattr(c.metrics, "count_outputs", _boom),
    "outbox rows": lambda c, mp: mp.setattr(partitioned, "outbox_items", _boom),
    "decision records": lambda c, mp: mp.setattr(partitioned, "decision_rows", _boom),
    "snapshot": lambda c, mp: mp.setattr(snapshots, "changes", _boom),
    "store write": lambda c, mp: mp.setattr(c.store, "save", _boom),
}


@pytest.mark.parametrize("step", [None, *STEPS])
async def test_a_batch_that_fails_midway_is_decided_again_after_restart_with_its_outbox_rows(
    step: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'w.db'}", group_id="g")
    first = consumer(store, POLICY)
    await first.adopt({TopicPartition(LIFE, 0), TopicPartition(CONTROL, 0)})
    await first.restorer.done()
    await feed(first, BATCHES[:1])
    assert commands(store) == ["probe"]
    with monkeypatch.context() as mp:
        if step is not None:
            STEPS[step](first, mp)
            with pytest.raises(Injected):
                await feed(first, BATCHES[1:])
        else:
            await feed(first, BATCHES[1:])
    await first.release()  # the shutdown path: snapshot what may be snapshotted, hand back
    second = consumer(store, POLICY)
    await second.adopt({TopicPartition(LIFE, 0), TopicPartition(CONTROL, 0)})
    await second.restorer.done()
    await feed(second, BATCHES)  # the log from the start: what the snapshot covers is skipped
    assert commands(store) == ["probe", "mark_failed"]
    marks = [json.loads(r.payload) for r in store.outbox_rows(X) if r.kind == "mark_failed"]
    assert marks[0]["at"] == at(31).replace("+00:00", "Z")
    store.close()
