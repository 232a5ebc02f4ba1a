"""What the core remembers of an execution it first hears of, and for how long it remembers an end."""

from __future__ import annotations

import pytest

from exec_watchdog.adapters import snapshots
from schemas import State
from statemachine import Engine, Policy, decide
from statemachine.record import ExecutionRecord
from statemachine.seen_ids import admit
from tests.events import AGENT, T0, lifecycle, probe, result, tick
from tests.statemachine.decisions import X, commands, feed, ticks

S = 1_000_000


@pytest.mark.parametrize(("kind", "ended"), [("completed", State.COMPLETED), ("cancelled", State.CANCELLED)])
def test_an_end_heard_first_is_remembered_whole(kind: str, ended: State) -> None:
    event = lifecycle(kind, X, 10, timeout_seconds=60)
    rec, outputs = decide(None, event, Policy(), input_id=event.event_id, clock=T0 + 10 * S)
    at = T0 + 10 * S
    expected = ExecutionRecord(X, AGENT, ended, at, at, at, 60 * S, ended_at=at, seen_ids=admit(b"", event.event_id))
    assert (rec, outputs) == (expected, [])


def test_an_end_is_remembered_for_the_retention_so_a_late_heartbeat_cannot_resurrect_it() -> None:
    engine = Engine(Policy(terminal_retention_s=600))
    feed(engine, [lifecycle("started", X, 0), lifecycle("completed", X, 10), tick(15), lifecycle("heartbeat", X, 12)])
    assert engine.records[X].state is State.COMPLETED
    feed(engine, ticks(20, 605))
    assert X in engine.records
    feed(engine, [tick(610)])
    assert X not in engine.records  # forgotten once the retention has passed, not before


def test_a_heartbeat_for_an_execution_never_seen_starts_the_watch() -> None:
    engine = Engine(Policy())
    feed(engine, [*ticks(0, 100), lifecycle("heartbeat", X, 100)])
    assert engine.records[X].state is State.RUNNING and engine.records[X].last_seen == T0 + 100 * S


def test_a_first_sign_of_life_exactly_one_retention_old_is_evidence_of_nothing() -> None:
    policy = Policy(terminal_retention_s=600, max_clock_skew_s=10**6)
    clock = T0 + 10_000 * S
    for age, remembered in [(600, False), (599, True)]:
        event = lifecycle("heartbeat", X, 10_000 - age)
        rec, _ = decide(None, event, policy, input_id=event.event_id, clock=clock)
        assert (rec is not None) is remembered, age


def test_a_first_start_long_ago_counts_its_agents_own_limit() -> None:
    policy = Policy(agent_timeouts={AGENT: 7200})
    event = lifecycle("started", X, 0)
    rec, _ = decide(None, event, policy, input_id=event.event_id, clock=T0 + 100_000 * S)
    assert rec is not None and rec.started_at == T0 + (100_000 - 7200 + 90) * S


def test_an_ended_orphan_keeps_why_it_ended_and_nothing_in_flight() -> None:
    engine = Engine(Policy())
    feed(engine, [lifecycle("started", X, 0), tick(95)])
    [mark] = commands(feed(engine, [probe(X, 96, "not_found")]))
    assert engine.records[X].recovery == "orphan"
    feed(engine, [result(mark.command_id, 97, "failed")])
    assert engine.records[X].retry_at is not None
    feed(engine, [result(mark.command_id, 98, "ok")])
    rec = engine.records[X]
    assert rec.state is State.FAILED and rec.recovery == "orphan" and rec.ended_at == T0 + 98 * S
    assert (rec.action_kind, rec.action_id, rec.retry_at, rec.next_probe_at) == (None, None, None, None)


def test_a_start_stamped_exactly_as_far_ahead_as_the_next_tick_can_come_is_taken_as_claimed() -> None:
    clock = T0 + 100 * S
    for ahead, counted in [(15, 115), (15.001, 100)]:  # three tick intervals of 5 s
        event = lifecycle("started", X, 100 + ahead)
        rec, _ = decide(None, event, Policy(), input_id=event.event_id, clock=clock)
        assert rec is not None and rec.started_at == T0 + counted * S, ahead


def test_a_watchdog_restored_from_a_snapshot_after_an_outage_does_not_count_the_outage_as_silence() -> None:
    engine = Engine(Policy())
    feed(engine, [tick(0), lifecycle("started", X, 0), *ticks(5, 60), lifecycle("heartbeat", X, 60)])
    restored = snapshots.decode(snapshots.encode(engine), engine.policy)
    outputs = feed(restored, [tick(660), lifecycle("heartbeat", X, 661), *ticks(665, 700)])  # ten minutes away
    assert commands(outputs) == [] and restored.records[X].state is State.RUNNING


def test_an_end_forgotten_before_its_old_deadline_leaves_nothing_behind_when_that_deadline_comes() -> None:
    engine = Engine(Policy(terminal_retention_s=60))
    feed(engine, [tick(0), lifecycle("started", X, 0), lifecycle("completed", X, 10)])  # its silence was due at 90
    feed(engine, ticks(5, 120))  # forgotten at 70; the deadline armed for 90 finds nothing
    assert X not in engine.records
