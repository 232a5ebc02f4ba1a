"""What a lifecycle event tells about an execution already known: which times move, which flags clear,
what counts as news, and what an ended execution ignores."""

from __future__ import annotations

from typing import Any

import pytest

from schemas import LifecycleEvent, State
from statemachine import Engine, Policy, decide
from statemachine.record import ExecutionRecord
from tests.events import AGENT, T0, lifecycle
from tests.statemachine.decisions import X, commands, feed, transitions

S = 1_000_000


def known(state: State, *, started: float = 0, seen: float = 0, active: float = 0, **extra: Any) -> ExecutionRecord:
    return ExecutionRecord(
        X, AGENT, state, T0 + round(started * S), T0 + round(seen * S), T0 + round(active * S), **extra
    )


def apply(rec: ExecutionRecord, event: LifecycleEvent, clock: float, policy: Policy | None = None, **kw: Any) -> Any:
    new, outputs = decide(rec, event, policy or Policy(), input_id=event.event_id, clock=T0 + round(clock * S), **kw)
    assert new is not None
    return new, outputs


@pytest.mark.parametrize("kind", ["heartbeat", "activity", "started", "failed", "completed"])
def test_an_ended_execution_ignores_every_later_lifecycle_event(kind: str) -> None:
    ended = known(State.COMPLETED, seen=10, active=10, ended_at=T0 + 10 * S)
    assert apply(ended, lifecycle(kind, X, 50), clock=50) == (ended, [])


def test_the_latest_start_stays_a_duplicate_when_it_came_after_the_first_sight() -> None:
    engine = Engine(Policy())
    feed(engine, [lifecycle("heartbeat", X, 0), lifecycle("started", X, 1, event_id="start-B", timeout_seconds=600)])
    feed(engine, [lifecycle("heartbeat", X, 2 + n) for n in range(9)])  # more ids than the window's seven
    feed(engine, [lifecycle("started", X, 20, event_id="start-B", timeout_seconds=60)])
    assert engine.records[X].own_timeout_us == 600 * S


def test_a_later_start_without_a_timeout_keeps_the_executions_own() -> None:
    engine = Engine(Policy())
    feed(engine, [lifecycle("started", X, 0, timeout_seconds=60), lifecycle("started", X, 5, event_id="again")])
    assert engine.records[X].own_timeout_us == 60 * S


def test_a_start_reported_after_a_heartbeat_moves_the_start_back() -> None:
    rec, _ = apply(known(State.RUNNING, started=50, seen=50, active=50), lifecycle("started", X, 40), clock=50)
    assert rec.started_at == T0 + 40 * S  # the runtime limit counts from the real start


@pytest.mark.parametrize(
    ("policy", "own_s", "limit_s"),
    [
        (Policy(), None, 3600),
        (Policy(agent_timeouts={AGENT: 7200}), None, 7200),
        (Policy(agent_timeouts={AGENT: 7200}), 600, 600),
    ],
)
def test_an_old_start_for_a_known_execution_is_never_overdue_before_one_heartbeat_timeout(
    policy: Policy, own_s: int | None, limit_s: int
) -> None:
    clock = 100_000
    extra = {} if own_s is None else {"timeout_seconds": own_s}
    rec, _ = apply(
        known(State.RUNNING, started=clock, seen=clock, active=clock),
        lifecycle("started", X, 0, **extra),  # a row that began more than a day ago
        clock=clock,
        policy=policy,
    )
    assert rec.started_at == T0 + (clock - limit_s + policy.heartbeat_timeout_s) * S


def test_a_sign_of_life_clears_what_the_probes_had_found() -> None:
    suspect = known(State.SUSPECTED, seen=0, active=0, unreachable=True, probe_attempts=3, next_probe_at=T0 + 200 * S)
    rec, outputs = apply(suspect, lifecycle("heartbeat", X, 100), clock=100)
    assert transitions(outputs) == [("suspected", "running")]
    assert rec.unreachable is False and rec.probe_attempts == 0 and rec.last_seen == T0 + 100 * S


def test_a_heartbeat_judged_at_its_stamp_when_it_is_behind_the_clock() -> None:
    """A believed stamp 20 s behind the clock: idleness is judged at the stamp (when it was seen alive),
    not at the clock (nobody saw it alive then)."""
    policy = Policy(idle_after_s=300)
    suspect = known(State.SUSPECTED, seen=200, active=0, activity_seen=True)
    _, outputs = apply(suspect, lifecycle("heartbeat", X, 290), 310, policy)
    assert transitions(outputs) == [("suspected", "running")]
    _, outputs = apply(suspect, lifecycle("heartbeat", X, 300), 310, policy)
    assert transitions(outputs) == [("suspected", "idle")]


@pytest.mark.parametrize("kind", ["heartbeat", "activity"])
def test_an_event_stamped_at_the_last_known_time_is_no_news(kind: str) -> None:
    suspect = known(State.SUSPECTED, seen=100, active=100 if kind == "heartbeat" else 90)
    stamp = 100 if kind == "heartbeat" else 90
    rec, outputs = apply(suspect, lifecycle(kind, X, stamp, event_id="new-id"), clock=110)
    assert outputs == [] and rec.state is State.SUSPECTED and rec.last_seen == suspect.last_seen


def test_activity_older_than_the_last_heartbeat_still_ends_idleness() -> None:
    idle = known(State.IDLE, seen=400, active=0, idle_announced=True)
    rec, outputs = apply(idle, lifecycle("activity", X, 380), clock=400, policy=Policy(idle_after_s=300))
    assert transitions(outputs) == [("idle", "running")]
    assert rec.last_activity == T0 + 380 * S and rec.last_seen == T0 + 400 * S


def test_a_sign_of_life_into_idleness_under_the_brake_holds_the_terminate() -> None:
    policy = Policy(idle_after_s=300, default_timeout_s=600, auto_terminate=True)
    suspect = known(State.SUSPECTED, seen=900, active=0)
    held, outputs = apply(suspect, lifecycle("heartbeat", X, 1000), clock=1000, policy=policy, braked=True)
    assert transitions(outputs) == [("suspected", "idle")] and commands(outputs, "terminate") == []
    assert held.held
    free, outputs = apply(suspect, lifecycle("heartbeat", X, 1000), clock=1000, policy=policy)
    assert [c.kind for c in commands(outputs)] == ["terminate"] and not free.held
