"""What the watchdog decides, behaviour by behaviour: silence, orphans, idleness, the platform's word,
duplicates and time."""

from __future__ import annotations

import pytest

from schemas import State, Transition
from statemachine import Engine, Policy
from statemachine.texts import ORPHAN_ERROR
from tests.events import AGENT, at, lifecycle, probe, result, tick
from tests.statemachine.decisions import (
    X,
    alive_without_activity,
    commands,
    feed,
    heartbeats,
    interleave,
    recoveries,
    state,
    ticks,
    transitions,
)

# ---- silence --------------------------------------------------------------------------------------


def test_a_silent_execution_is_suspected_once_and_probed_once() -> None:
    engine = Engine(Policy())
    outputs = feed(engine, [lifecycle("started", X, 0), *ticks(5, 100)])
    assert transitions(outputs) == [("running", "suspected")]
    [probe_command] = commands(outputs)
    assert probe_command.kind == "probe" and probe_command.at.isoformat().startswith(at(90)[:19])


def test_heartbeats_keep_an_execution_running_and_nothing_is_ever_marked_failed() -> None:
    engine = Engine(Policy(idle_after_s=10**6, default_timeout_s=10**6))
    outputs = feed(engine, interleave([lifecycle("started", X, 0)], heartbeats(X, 30, 7200), ticks(5, 7200)))
    assert outputs == []
    assert state(engine) is State.RUNNING


# ---- orphans ----------------------------------------------------------------------------------------


def test_an_orphan_is_confirmed_marked_failed_and_announced_with_the_contract_error() -> None:
    engine = Engine(Policy())
    feed(engine, [lifecycle("started", X, 0), tick(95)])
    outputs = feed(engine, [probe(X, 96, "not_found")])
    assert transitions(outputs) == [("suspected", "confirmed_orphan")]
    [mark] = commands(outputs, "mark_failed")
    assert mark.error == ORPHAN_ERROR
    outputs = feed(engine, [result(mark.command_id, 97, "ok")])
    assert transitions(outputs) == [("confirmed_orphan", "failed")]
    [event] = recoveries(outputs)
    assert event.action == "orphan_recovered" and event.state is State.FAILED
    assert event.error == "Execution completed on agent but status not reported — recovered by watchdog"
    assert event.reason == f"agent {AGENT} does not know the execution (probe at {at(96)})"
    assert event.decided_at.isoformat().startswith(at(97)[:19])
    assert len(event.caused_by) == 2


def test_an_orphan_younger_than_min_age_is_probed_again_once_old_enough() -> None:
    engine = Engine(Policy(heartbeat_timeout_s=10, min_age_s=60))
    feed(engine, [lifecycle("started", X, 0), tick(15)])
    outputs = feed(engine, [probe(X, 16, "not_found"), *ticks(20, 55)])
    assert transitions(outputs) == [] and commands(outputs) == []
    assert state(engine) is State.SUSPECTED
    outputs = feed(engine, [tick(60)])
    assert [c.kind for c in commands(outputs)] == ["probe"]
    outputs = feed(engine, [probe(X, 61, "not_found")])
    assert transitions(outputs) == [("suspected", "confirmed_orphan")]


# ---- idle and timeouts --------------------------------------------------------------------------------


def test_alive_without_activity_is_idle_and_announced_once_when_the_policy_counts_silence() -> None:
    engine = Engine(Policy(idle_after_s=600, default_timeout_s=10**6, idle_without_activity=True))
    outputs = alive_without_activity(engine, 1800)
    assert transitions(outputs) == [("running", "idle")]
    [event] = recoveries(outputs)
    assert event.action == "idle_detected" and event.state is State.IDLE and event.error is None
    assert commands(outputs) == []


def test_activity_clears_idleness() -> None:
    engine = Engine(Policy(idle_after_s=600, default_timeout_s=10**6, idle_without_activity=True))
    alive_without_activity(engine, 700)
    outputs = feed(engine, [lifecycle("activity", X, 701)])
    assert transitions(outputs) == [("idle", "running")]
    outputs = feed(engine, interleave(heartbeats(X, 710, 1400), ticks(705, 1400)))
    assert transitions(outputs) == [("running", "idle")]  # idle again: announced again
    assert [e.action for e in recoveries(outputs)] == ["idle_detected"]


def test_past_its_timeout_without_auto_terminate_it_is_only_reported() -> None:
    engine = Engine(Policy(idle_after_s=10**6))
    outputs = alive_without_activity(engine, 1200, timeout_seconds=600)
    assert [e.action for e in recoveries(outputs)] == ["idle_detected"]
    assert "AUTO_TERMINATE is off" in recoveries(outputs)[0].reason
    assert commands(outputs) == []


def test_an_execution_another_agent_claims_is_held_and_announced_once() -> None:
    engine = Engine(Policy(heartbeat_timeout_s=20, min_age_s=1, auto_terminate=True, default_timeout_s=60))
    feed(engine, [lifecycle("started", X, 0), tick(1)])
    outputs = feed(engine, [lifecycle("heartbeat", X, 5, agent_name="other-bot"), tick(6)])
    [incident] = recoveries(outputs)
    assert incident.action == "incident" and incident.agent_name == AGENT and "other-bot" in incident.reason
    outputs = feed(engine, [lifecycle("heartbeat", X, 7, agent_name="other-bot"), *ticks(10, 300)])
    assert recoveries(outputs) == [] and commands(outputs) == []  # said once; no probe, terminate or mark
    assert transitions(outputs) == [("running", "suspected")]
    assert engine.records[X].last_seen == engine.records[X].started_at  # the other agent's word is no sign of life
    outputs = feed(engine, [lifecycle("cancelled", X, 301, agent_name="other-bot")])
    assert transitions(outputs) == [("suspected", "cancelled")]  # the platform's end is taken from either


@pytest.mark.parametrize(
    ("own", "per_agent", "default", "expected_s"),
    [(600, {AGENT: 900}, 1200, 600), (None, {AGENT: 900}, 1200, 900), (None, {"other": 60}, 1200, 1200)],
)
def test_the_effective_timeout_is_own_then_agent_then_default(
    own: float | None, per_agent: dict[str, float], default: float, expected_s: float
) -> None:
    policy = Policy(idle_after_s=10**6, auto_terminate=True, agent_timeouts=per_agent, default_timeout_s=default)
    engine = Engine(policy)
    extra = {} if own is None else {"timeout_seconds": own}
    outputs = alive_without_activity(engine, 1300, **extra)
    [terminate] = commands(outputs, "terminate")
    assert terminate.at.isoformat().startswith(at(expected_s)[:19])


# ---- the platform's word wins ---------------------------------------------------------------------------


def test_completion_wins_over_a_recovery_in_flight_and_absorbs_late_answers() -> None:
    engine = Engine(Policy())
    feed(engine, [lifecycle("started", X, 0), tick(95)])
    [mark] = commands(feed(engine, [probe(X, 96, "not_found")]))
    outputs = feed(engine, [lifecycle("completed", X, 96.5)])
    assert transitions(outputs) == [("confirmed_orphan", "completed")]
    late = [
        result(mark.command_id, 97, "ok"),
        lifecycle("heartbeat", X, 98),
        probe(X, 99, "running"),
        *ticks(100, 400),
    ]
    assert feed(engine, late) == []
    assert state(engine) is State.COMPLETED


@pytest.mark.parametrize("kind", ["completed", "failed", "cancelled"])
def test_a_finished_execution_is_not_resurrected_by_late_events(kind: str) -> None:
    engine = Engine(Policy())
    outputs = feed(
        engine,
        [lifecycle(kind, X, 10), lifecycle("started", X, 0), lifecycle("heartbeat", X, 5), *ticks(0, 500)],
    )
    assert outputs == []
    assert state(engine).value == kind


# ---- duplicates and time ----------------------------------------------------------------------------------


def test_duplicates_change_nothing() -> None:
    engine = Engine(Policy())
    first = lifecycle("heartbeat", X, 40, event_id="hb-1")
    feed(engine, [lifecycle("started", X, 0), first, tick(100)])
    before = dict(engine.records)
    assert feed(engine, [first, tick(100), tick(99)]) == []
    assert engine.records == before


def test_an_older_event_never_moves_time_backwards() -> None:
    engine = Engine(Policy())
    feed(engine, [lifecycle("started", X, 0), lifecycle("heartbeat", X, 80), lifecycle("heartbeat", X, 20)])
    assert engine.records[X].last_seen == engine.records[X].started_at + 80_000_000
    assert transitions(feed(engine, [tick(169)])) == []
    assert transitions(feed(engine, [tick(170)])) == [("running", "suspected")]


def test_finished_executions_are_forgotten_after_retention_and_stale_news_is_ignored() -> None:
    engine = Engine(Policy(terminal_retention_s=600))
    feed(engine, [lifecycle("started", X, 0), lifecycle("completed", X, 10), *ticks(0, 700)])
    assert X not in engine.records
    assert feed(engine, [lifecycle("heartbeat", X, 5), *ticks(705, 1000)]) == []
    assert X not in engine.records


def test_a_restored_engine_decides_in_the_same_order_as_one_that_never_stopped() -> None:
    from exec_watchdog.adapters import snapshots

    # A is armed at 90 s, then a heartbeat moves its deadline to 130 s; B falls due at 110 s.
    before = [lifecycle("started", "A", 0), lifecycle("started", "B", 20), lifecycle("heartbeat", "A", 40)]
    continuous = Engine(Policy())
    feed(continuous, before)
    restored = snapshots.decode(snapshots.encode(continuous), Policy())
    later = [tick(200)]
    assert feed(continuous, later) == feed(restored, later)
    assert [o.execution_id for o in feed(Engine(Policy()), [*before, *later]) if isinstance(o, Transition)] == [
        "B",
        "A",
    ]


def test_a_policy_copied_with_other_thresholds_decides_by_the_new_ones() -> None:
    policy = Policy(heartbeat_timeout_s=90)
    assert policy.us.heartbeat_timeout == 90_000_000  # converted and cached
    copied = policy.model_copy(update={"heartbeat_timeout_s": 5})
    assert copied.us.heartbeat_timeout == 5_000_000 and policy.us.heartbeat_timeout == 90_000_000


def test_an_orphan_exactly_min_age_old_is_confirmed() -> None:
    engine = Engine(Policy(heartbeat_timeout_s=10, min_age_s=60))
    feed(engine, [lifecycle("started", X, 0), *ticks(5, 55)])
    assert transitions(feed(engine, [probe(X, 60, "not_found")])) == [("suspected", "confirmed_orphan")]


def test_the_heartbeat_fast_path_takes_a_running_executions_beat_and_only_that() -> None:
    engine = Engine(Policy())
    feed(engine, [tick(0), lifecycle("started", X, 0)])
    assert engine.beat(X, engine.clock + 5_000_000, AGENT, "hb-1")  # type: ignore[operator]
    assert engine.records[X].last_seen == engine.clock + 5_000_000  # type: ignore[operator]
    assert engine.beat(X, engine.clock + 9_000_000, AGENT, "hb-1")  # type: ignore[operator]  # a repeat: taken, as nothing
    assert engine.records[X].last_seen == engine.clock + 5_000_000  # type: ignore[operator]
    assert not engine.beat("unknown", engine.clock, AGENT, "hb-2")  # type: ignore[arg-type]
    assert not engine.beat(X, engine.clock, "other-bot", "hb-3")  # type: ignore[arg-type]
    assert not engine.beat(X, engine.clock + 3600_000_000, AGENT, "hb-4")  # type: ignore[operator]  # not believed
    assert engine.state_of(X) is State.RUNNING and engine.state_of("unknown") is None
