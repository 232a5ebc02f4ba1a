"""Probe answers: running, not known, unreachable; one announcement per agent per outage."""

from __future__ import annotations

import itertools

import pytest

from schemas import State
from statemachine import Engine, Policy, decide
from statemachine.record import ExecutionRecord
from statemachine.texts import unreachable_reason
from tests.events import AGENT, T0, lifecycle, probe, tick
from tests.statemachine.decisions import (
    X,
    at_time,
    commands,
    feed,
    interleave,
    recoveries,
    state,
    ticks,
    transitions,
)


def test_a_probe_that_finds_it_running_clears_the_suspicion() -> None:
    engine = Engine(Policy(idle_after_s=10**6))
    feed(engine, [lifecycle("started", X, 0), tick(95)])
    outputs = feed(engine, [probe(X, 96, "running"), *ticks(100, 180)])
    assert transitions(outputs) == [("suspected", "running")]
    assert commands(outputs, "mark_failed") == []


def test_an_unreachable_agent_is_announced_once_and_nothing_is_killed() -> None:
    engine = Engine(Policy(probe_retry_s=10, probe_retry_max_s=40))
    outputs = feed(engine, [lifecycle("started", X, 0)])
    for second in range(1, 2000):
        decided = engine.apply(tick(second))
        outputs += decided
        if commands(decided, "probe"):  # the agent never answers
            outputs += engine.apply(probe(X, second + 0.5, "unreachable"))
    assert [e.action for e in recoveries(outputs)] == ["agent_unreachable"]
    assert commands(outputs, "mark_failed") == [] and commands(outputs, "terminate") == []
    assert state(engine) is State.SUSPECTED
    probe_times = [c.at for c in commands(outputs, "probe")]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(probe_times)]
    assert gaps[:4] == [11, 21, 41, 41] and max(gaps) == 41  # doubling from 10 s, capped at 40 s (+1 s ticks)


def test_an_agent_outage_is_one_event_listing_the_executions_that_await_it() -> None:
    engine = Engine(Policy(idle_after_s=10**6))
    others = ["exec-2", "exec-3"]
    feed(
        engine,
        [
            *(lifecycle("started", x, 0) for x in [X, *others]),
            lifecycle("started", "elsewhere", 0, agent_name="b"),
            tick(90),
        ],
    )
    outputs = feed(engine, [probe(x, 91, "unreachable") for x in [X, *others]])
    outputs += feed(engine, [*ticks(95, 200), *(probe(x, 201, "unreachable") for x in [X, *others])])
    [event] = recoveries(outputs)
    assert event.action == "agent_unreachable"
    assert event.reason.endswith("3 execution(s) await its answer: exec-1, exec-2, exec-3")
    outputs = feed(engine, [probe(X, 202, "running"), *ticks(205, 400), probe("exec-2", 401, "unreachable")])
    assert [e.action for e in recoveries(outputs)] == ["agent_unreachable"]  # it answered: a new outage


def test_a_new_unreachable_episode_is_announced_again() -> None:
    engine = Engine(Policy())
    feed(engine, [lifecycle("started", X, 0), tick(90), probe(X, 91, "unreachable"), probe(X, 92, "running")])
    outputs = feed(engine, [*ticks(95, 200), probe(X, 201, "unreachable")])
    assert [e.action for e in recoveries(outputs)] == ["agent_unreachable"]


def test_a_probe_answer_no_newer_than_the_last_sign_of_life_changes_nothing() -> None:
    engine = Engine(Policy(idle_after_s=10**6, heartbeat_timeout_s=20))
    feed(engine, interleave([lifecycle("started", X, 0), lifecycle("heartbeat", X, 80)], ticks(5, 100)))
    assert state(engine) is State.SUSPECTED
    assert feed(engine, [probe(X, 80, "running")]) == []  # observed at the very moment of the last sign of life
    assert transitions(feed(engine, [probe(X, 80.5, "running")])) == [("suspected", "running")]


def test_after_a_suspicion_cleared_by_a_probe_the_next_one_probes_at_the_first_backoff_again() -> None:
    engine = Engine(Policy(idle_after_s=10**6, probe_retry_s=15))
    feed(engine, [lifecycle("started", X, 0), *ticks(5, 90), probe(X, 91, "unreachable"), *ticks(95, 105)])
    feed(engine, [probe(X, 106, "running")])  # cleared: its attempts start over
    outputs = feed(engine, ticks(110, 215))
    probes = [c.at for c in commands(outputs, "probe")]
    assert probes[:2] == [at_time(200), at_time(215)]  # suspected at 200 (silent from 106+), retried 15 s later


def test_an_answer_ends_only_its_own_agents_outage() -> None:
    engine = Engine(Policy(idle_after_s=10**6))
    feed(engine, [lifecycle("started", "a-1", 0), lifecycle("started", "b-1", 0, agent_name="b-bot")])
    feed(engine, [lifecycle("started", "b-2", 0, agent_name="b-bot"), *ticks(5, 90)])
    outputs = feed(engine, [probe("a-1", 91, "unreachable"), probe("b-1", 91, "unreachable", agent_name="b-bot")])
    assert [e.agent_name for e in recoveries(outputs, "agent_unreachable")] == [AGENT, "b-bot"]
    outputs = feed(engine, [probe("a-1", 92, "running")])  # research-bot is back; b-bot is not
    outputs += feed(engine, [probe("b-2", 93, "unreachable", agent_name="b-bot")])
    assert recoveries(outputs, "agent_unreachable") == []  # still b-bot's first outage


def test_a_probe_that_finds_it_running_starts_the_next_suspicions_probes_from_the_first_interval() -> None:
    engine = Engine(Policy(idle_after_s=10**6, probe_retry_s=15))
    feed(engine, [lifecycle("started", X, 0), *ticks(5, 90)])  # suspected at 90
    feed(engine, [probe(X, 91, "unreachable"), *ticks(95, 105), probe(X, 106, "unreachable")])
    feed(engine, [*ticks(110, 135), probe(X, 136, "running")])  # its probes had backed off to 30 s, then 60 s
    outputs = feed(engine, [*ticks(140, 230)])  # silent again from 136: suspected at 230
    outputs += feed(engine, [probe(X, 231, "unreachable"), *ticks(235, 250)])
    assert [c.at for c in commands(outputs, "probe")] == [at_time(230), at_time(250)]  # the first tick after 231 + 15


def test_an_unreachable_answer_decided_alone_names_its_own_execution() -> None:
    suspect = ExecutionRecord(X, AGENT, State.SUSPECTED, T0, T0, T0, probe_attempts=0)
    answer = probe(X, 100, "unreachable")
    rec, outputs = decide(suspect, answer, Policy(), input_id="p-1")
    assert rec is not None and rec.unreachable
    [announcement] = recoveries(outputs, "agent_unreachable")
    assert announcement.reason.endswith(f"1 execution(s) await its answer: {X}")


@pytest.mark.parametrize(
    ("waiting", "listed"), [(["a", "b"], "a, b"), (["a", "b", "c"], "a, b and 1 more"), (["a"] * 5, "a, a and 3 more")]
)
def test_an_outage_lists_up_to_the_limit_and_counts_the_rest(waiting: list[str], listed: str) -> None:
    assert unreachable_reason(AGENT, T0, waiting, 2).endswith(f"{len(waiting)} execution(s) await its answer: {listed}")


def test_an_execution_that_beats_again_leaves_its_agents_outage_open_for_the_others() -> None:
    engine = Engine(Policy(idle_after_s=10**6))
    feed(engine, [*(lifecycle("started", x, 0) for x in ("a", "b", "c")), *ticks(5, 90)])
    outputs = feed(engine, [probe("a", 91, "unreachable"), probe("b", 91, "unreachable")])
    assert len(recoveries(outputs, "agent_unreachable")) == 1
    outputs = feed(engine, [lifecycle("heartbeat", "a", 92), probe("c", 93, "unreachable")])
    assert recoveries(outputs, "agent_unreachable") == []  # b still waits: the same outage
