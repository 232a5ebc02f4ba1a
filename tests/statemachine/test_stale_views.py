"""What a source that reports no progress, or reports alive only every so often, may and may not lead to:
idle for lack of activity only once activity was seen, and "past its limit" only when seen alive past it."""

from __future__ import annotations

from schemas import Output, State, Transition
from statemachine import Engine, Policy
from tests.events import lifecycle, probe, tick
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

QUIET = Policy(idle_after_s=600, default_timeout_s=10**6)


def test_an_execution_whose_source_never_reported_activity_is_never_idle_for_lack_of_it() -> None:
    engine = Engine(QUIET)
    outputs = alive_without_activity(engine, 7200)
    assert outputs == []
    assert state(engine) is State.RUNNING


def test_once_activity_was_seen_its_lack_makes_the_execution_idle() -> None:
    engine = Engine(QUIET)
    feed(engine, interleave([lifecycle("started", X, 0), lifecycle("activity", X, 40)], ticks(5, 60)))
    outputs = feed(engine, interleave(heartbeats(X, 60, 700), ticks(65, 700)))
    assert transitions(outputs) == [("running", "idle")]
    [event] = recoveries(outputs)
    assert event.action == "idle_detected" and event.decided_at == tick(660).now  # seen alive at 660: 620 s quiet


def test_a_first_sight_by_activity_counts_as_a_source_of_activity() -> None:
    engine = Engine(QUIET)
    feed(engine, [tick(0), lifecycle("activity", X, 1)])
    outputs = feed(engine, interleave(heartbeats(X, 30, 700), ticks(5, 700)))
    assert transitions(outputs) == [("running", "idle")]


def test_past_its_limit_without_activity_it_is_still_idle() -> None:
    engine = Engine(Policy(idle_after_s=60, default_timeout_s=10**6))
    outputs = alive_without_activity(engine, 700, timeout_seconds=600)
    assert transitions(outputs) == [("running", "idle")]
    assert "over its timeout" in recoveries(outputs)[0].reason


def test_a_task_that_ended_between_two_looks_near_its_limit_draws_nothing() -> None:
    """Seen alive every 15 s; its limit is 100 s; it ended at 95 and the next look (105) says so."""
    engine = Engine(Policy(auto_terminate=True, heartbeat_timeout_s=60, min_age_s=0))
    feed(engine, [tick(0), lifecycle("started", X, 0, timeout_seconds=100)])
    outputs = feed(engine, interleave(heartbeats(X, 15, 90, every=15), ticks(5, 100)))
    outputs += feed(engine, [tick(105), lifecycle("completed", X, 95), tick(110)])
    assert recoveries(outputs) == [] and commands(outputs) == []
    assert state(engine) is State.COMPLETED


def test_a_task_seen_alive_past_its_limit_is_terminated_at_the_next_tick() -> None:
    engine = Engine(Policy(auto_terminate=True, heartbeat_timeout_s=60, min_age_s=0))
    feed(engine, [tick(0), lifecycle("started", X, 0, timeout_seconds=100)])
    before = feed(engine, interleave(heartbeats(X, 15, 90, every=15), ticks(5, 100)))
    assert commands(before) == []  # due at 100, last seen alive at 90: it waits for a look
    outputs = feed(engine, [tick(105), lifecycle("heartbeat", X, 105), tick(110)])
    [terminate] = commands(outputs, "terminate")
    assert terminate.at == tick(110).now
    assert [e.action for e in recoveries(outputs)] == ["idle_detected"]


def test_past_its_limit_and_never_seen_again_the_silence_decides() -> None:
    engine = Engine(Policy(auto_terminate=True, heartbeat_timeout_s=60, min_age_s=0))
    feed(engine, [tick(0), lifecycle("started", X, 0, timeout_seconds=100)])
    outputs = feed(engine, interleave(heartbeats(X, 15, 90, every=15), ticks(5, 160)))
    assert transitions(outputs) == [("running", "suspected")]  # at 150: 60 s of silence after 90
    assert [c.kind for c in commands(outputs)] == ["probe"]
    outputs = feed(engine, [probe(X, 151, "running")])
    assert transitions(outputs) == [("suspected", "idle")]  # the probe saw it alive past its limit
    assert [c.kind for c in commands(outputs)] == ["terminate"]


def test_idleness_judged_at_the_latest_sign_of_life_not_at_the_tick() -> None:
    """Activity at 0, IDLE_AFTER_S 600, seen alive every 100 s: at the 600 s tick it was last seen
    alive at 500 (quiet 500 s), so it is idle only once seen alive at 600 or later."""
    engine = Engine(QUIET.model_copy(update={"heartbeat_timeout_s": 150}))
    feed(engine, [tick(0), lifecycle("started", X, 0), lifecycle("activity", X, 0)])
    outputs = feed(engine, interleave(heartbeats(X, 100, 500, every=100), ticks(5, 600)))
    assert transitions(outputs) == []
    outputs = feed(engine, [lifecycle("heartbeat", X, 601), tick(605)])
    assert transitions(outputs) == [("running", "idle")]


def test_idle_for_quiet_first_then_terminated_once_seen_alive_past_its_limit() -> None:
    engine = Engine(Policy(idle_after_s=60, auto_terminate=True, heartbeat_timeout_s=60, min_age_s=0))
    feed(engine, [tick(0), lifecycle("started", X, 0, timeout_seconds=300), lifecycle("activity", X, 10)])
    outputs = feed(engine, interleave(heartbeats(X, 30, 270), ticks(5, 300)))
    assert transitions(outputs) == [("running", "idle")] and commands(outputs) == []  # quiet, within its limit
    outputs = feed(engine, [lifecycle("heartbeat", X, 301), tick(305)])
    [terminate] = commands(outputs, "terminate")
    assert terminate.at == tick(305).now  # the first tick after it was seen alive past 300 s


def test_a_stamp_exactly_max_clock_skew_behind_the_clock_is_believed() -> None:
    engine = Engine(Policy(max_clock_skew_s=30, heartbeat_timeout_s=20))
    feed(engine, [tick(0), lifecycle("started", X, 0), *ticks(5, 60)])  # suspected at 20
    [cleared] = transitions_of(feed(engine, [lifecycle("heartbeat", X, 30)]))  # 30 s behind: taken as stamped
    assert "beyond MAX_CLOCK_SKEW_S" not in cleared.cause
    feed(engine, ticks(65, 95))  # suspected again at 65
    [cleared] = transitions_of(feed(engine, [lifecycle("heartbeat", X, 64.999)]))  # 30.001 s behind
    assert "beyond MAX_CLOCK_SKEW_S" in cleared.cause


def transitions_of(outputs: list[Output]) -> list[Transition]:
    return [o for o in outputs if isinstance(o, Transition)]
