"""Incremental snapshots: only what changed is written, a gap rewrites nothing, and every restore
(from rows, or from a checkpoint built from them) gives back the engine as it was."""

from __future__ import annotations

import json

import pytest

from exec_watchdog.adapters import partition_rows, snapshots
from exec_watchdog.adapters.audit_store import Checkpoint
from exec_watchdog.adapters.store import PartitionSnapshot, Store
from schemas.fields import State
from statemachine import Engine, Policy
from statemachine.record import field_values
from statemachine.rules import next_due
from tests.events import lifecycle, tick

LIFE = "life"


def state(engine: Engine) -> dict[str, tuple[object, ...]]:
    """Every record's fields but the heap slot (re-armed on restore)."""
    return {x: field_values(r.but(armed_at=None)) for x, r in engine.records.items()}


def save(store: Store, engine: Engine, at: int, *, checkpoint: bool = False) -> snapshots.Changes:
    changes = snapshots.changes(engine)
    snap = PartitionSnapshot(at, at, changes.header, changes)
    marks = {0: Checkpoint(0, at, at, engine.policy.digest, b"", engine.clock)} if checkpoint else None
    store.save(LIFE, {0: snap}, [], checkpoints=marks)
    return changes


def restore(store: Store, policy: Policy | None = None) -> Engine:
    loaded = store.load_partition(LIFE, 0)
    assert loaded is not None
    return snapshots.decode(loaded.snapshot, policy or Policy(), store.partition_rows(LIFE, 0))


def fleet(count: int, policy: Policy | None = None) -> Engine:
    engine = Engine(policy or Policy())
    for n in range(count):
        engine.apply(lifecycle("started", f"x-{n:03d}", 0, timeout_seconds=600))
    engine.apply(tick(1))
    return engine


def test_a_snapshot_writes_only_the_executions_that_changed(store: Store) -> None:
    engine = fleet(200)
    assert len(save(store, engine, 1).rows) == 200  # the first one writes every row
    for n in (3, 4, 5):
        engine.apply(lifecycle("heartbeat", f"x-{n:03d}", 2))
    engine.apply(lifecycle("completed", "x-006", 2))
    changes = save(store, engine, 2)
    assert sorted(changes.rows) == ["x-003", "x-004", "x-005", "x-006"] and not changes.full
    assert len(save(store, engine, 3).rows) == 0  # nothing changed since
    assert state(restore(store)) == state(engine)


def test_a_forgotten_execution_loses_its_row(store: Store) -> None:
    engine = fleet(3, Policy(terminal_retention_s=10, tick_interval_s=5))
    save(store, engine, 1)
    engine.apply(lifecycle("completed", "x-001", 2))
    for seconds in range(5, 30, 5):  # past the retention: the ended execution is forgotten
        engine.apply(tick(seconds))
    assert "x-001" not in engine.records
    assert save(store, engine, 2).rows["x-001"] is None
    assert sorted(restore(store).records) == sorted(engine.records) == ["x-000", "x-002"]


def test_a_gap_in_the_watch_rewrites_no_row_and_restores_the_moved_times(store: Store) -> None:
    engine = fleet(50)
    save(store, engine, 1)
    engine.apply(tick(2))
    engine.apply(tick(500))  # the ticks stopped for minutes: the gap is taken out of every record
    assert engine.shifted != 0
    changes = save(store, engine, 2)
    assert len(changes.rows) <= 1  # not the 50 records the gap moved
    engine.apply(lifecycle("heartbeat", "x-007", 501))
    save(store, engine, 3)  # a row written after the gap, beside rows written before it
    restored = restore(store)
    assert state(restored) == state(engine) and restored.shifted == engine.shifted
    assert [o.model_dump() for o in restored.apply(tick(900))] == [o.model_dump() for o in engine.apply(tick(900))]


def across_a_gap(store: Store, count: int, beating: str, *, checkpoint: bool = False) -> Engine:
    """`count` executions saved, a gap in the watch, then one of them beats and they are saved again:
    rows written before the gap beside one written after it."""
    engine = fleet(count)
    save(store, engine, 1)
    engine.apply(tick(2))
    engine.apply(tick(500))
    engine.apply(lifecycle("heartbeat", beating, 501))
    save(store, engine, 2, checkpoint=checkpoint)
    return engine


def test_a_checkpoint_built_from_the_rows_is_the_whole_snapshot(store: Store) -> None:
    engine = across_a_gap(store, 20, "x-002", checkpoint=True)
    kept = store.audit.checkpoints(LIFE, 0)[-1]
    assert state(snapshots.decode(kept.snapshot, Policy())) == state(
        snapshots.decode(snapshots.encode(engine), Policy())
    )
    assert state(snapshots.decode(kept.snapshot, Policy())) == state(engine)


def test_a_whole_snapshot_from_an_earlier_build_is_read_and_then_written_as_rows(store: Store) -> None:
    engine = fleet(30)
    store.save(LIFE, {0: PartitionSnapshot(1, 1, snapshots.encode(engine))}, [])
    restored = restore(store)
    assert state(restored) == state(engine) and restored.all_changed
    assert len(save(store, restored, 2).rows) == 30
    assert state(restore(store)) == state(engine)


def outputs(engine: Engine, seconds: float) -> list[dict[str, object]]:
    return [o.model_dump() for o in engine.apply(tick(seconds))]


def test_a_restore_under_the_same_policy_keeps_the_deadlines_and_decides_alike(store: Store) -> None:
    engine = fleet(40, Policy(heartbeat_timeout_s=60))
    for n in range(0, 40, 3):  # lazily re-armed: their heap entries are earlier than their deadlines
        engine.apply(lifecycle("heartbeat", f"x-{n:03d}", 30))
    save(store, engine, 1)
    restored = restore(store, engine.policy)
    assert {x: r.armed_at for x, r in restored.records.items()} == {x: r.armed_at for x, r in engine.records.items()}
    assert sorted(restored._heap) == sorted((r.armed_at, x) for x, r in engine.records.items())
    for seconds in (62, 70, 95, 200):
        assert outputs(restored, seconds) == outputs(engine, seconds)


def test_a_restore_under_another_policy_computes_every_deadline_again(store: Store) -> None:
    engine = fleet(5, Policy(heartbeat_timeout_s=3600))
    save(store, engine, 1)
    restored = restore(store, Policy(heartbeat_timeout_s=5))  # deadlines armed under 3600 s would miss them
    assert outputs(engine, 7) == []
    outputs(restored, 7)
    assert restored.states[State.SUSPECTED] == 5


@pytest.mark.parametrize("restoring_build", ["another", None])
def test_deadlines_stored_by_other_deadline_code_are_computed_again(
    store: Store, monkeypatch: pytest.MonkeyPatch, restoring_build: str | None
) -> None:
    """Same policy values, but the rules that set deadlines differ (another build), or this build
    cannot fingerprint its own: no stored deadline is trusted."""
    policy = Policy(heartbeat_timeout_s=60)
    engine = fleet(10, policy)
    for n in range(10):  # lazily re-armed: each stored deadline is earlier than its true one
        engine.apply(lifecycle("heartbeat", f"x-{n:03d}", 30))
    save(store, engine, 1)
    monkeypatch.setattr(snapshots, "_ARMING_CODE", restoring_build)
    restored = restore(store, policy)
    assert {r.armed_at for r in restored.records.values()} == {next_due(r, policy) for r in restored.records.values()}
    assert all(r.armed_at != engine.records[x].armed_at for x, r in restored.records.items())


def test_rows_are_read_in_chunks_each_row_once(store: Store) -> None:
    engine = across_a_gap(store, 50, "x-007")
    with store.engine.connect() as conn:
        chunks = list(partition_rows.read_chunks(conn, (store.group_id, LIFE, 0), chunk=7))
    assert [len(c.shifted) for c in chunks] == [7] * 7 + [1]
    rows = [row for c in chunks for row in json.loads(f"[{c.joined}]")]
    assert sorted(row[0] for row in rows) == sorted(engine.records)
    shifts = [at for c in chunks for at in c.shifted]
    assert sorted(set(shifts)) == [0, engine.shifted] and shifts.count(engine.shifted) == 1
