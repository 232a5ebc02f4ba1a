"""Terminate and mark_failed: when they are issued, retried, and what their answers decide."""

from __future__ import annotations

import pytest

from schemas import State
from statemachine import Engine, Policy
from statemachine.texts import ORPHAN_ERROR
from tests.events import AGENT, at, lifecycle, probe, result, tick
from tests.statemachine.decisions import (
    X,
    alive_without_activity,
    at_time,
    commands,
    feed,
    heartbeats,
    recoveries,
    state,
    ticks,
    transitions,
)


def test_auto_terminate_terminates_then_marks_failed_with_the_contract_error() -> None:
    engine = Engine(Policy(idle_after_s=10**6, auto_terminate=True))
    outputs = alive_without_activity(engine, 1200, timeout_seconds=600)
    assert transitions(outputs) == [("running", "idle")]
    [terminate] = commands(outputs)
    assert terminate.kind == "terminate"
    outputs = feed(engine, [result(terminate.command_id, 1201, "ok")])
    [mark] = commands(outputs)
    assert mark.kind == "mark_failed"
    outputs = feed(engine, [result(mark.command_id, 1202, "ok")])
    assert transitions(outputs) == [("idle", "failed")]
    [event] = recoveries(outputs)
    assert event.action == "auto_terminated"
    assert event.error == "Execution auto-terminated after 20 minutes by watchdog (exceeded timeout of 600s)"


def test_a_terminate_the_execution_outlived_is_said_once_and_retried_with_the_same_id_before_any_mark() -> None:
    engine = Engine(Policy(idle_after_s=10**6, auto_terminate=True))
    [terminate] = commands(alive_without_activity(engine, 1200, timeout_seconds=600))
    outputs = feed(engine, [result(terminate.command_id, 1215, "still_running"), *ticks(1220, 1300)])
    [told] = recoveries(outputs)
    assert told.action == "incident" and told.reason == (
        f"agent {AGENT} acknowledged terminate {terminate.command_id} but execution {X} was still in its running "
        f"list at {at(1215)}: nothing is marked and its capacity slot stays held; the terminate is retried with "
        "the same command id"
    )
    [again] = commands(outputs)
    assert (again.kind, again.command_id, again.attempt) == ("terminate", terminate.command_id, 1)
    outputs = feed(engine, [result(terminate.command_id, 1315, "still_running"), *ticks(1320, 1400)])
    assert recoveries(outputs) == []  # said once
    assert [(c.kind, c.command_id) for c in commands(outputs)] == [("terminate", terminate.command_id)]
    outputs = feed(engine, [result(terminate.command_id, 1401, "ok")])
    assert [c.kind for c in commands(outputs)] == ["mark_failed"]


@pytest.mark.parametrize("terminate_outcome", ["already_finished", "not_found"])
def test_a_terminate_that_finds_nothing_is_no_termination_and_the_execution_is_examined_again(
    terminate_outcome: str,
) -> None:
    engine = Engine(Policy(idle_after_s=10**6, auto_terminate=True, min_age_s=60))
    [terminate] = commands(alive_without_activity(engine, 1200, timeout_seconds=600))
    outputs = feed(engine, [result(terminate.command_id, 1201, terminate_outcome)])
    assert transitions(outputs) == [("idle", "suspected")] and terminate_outcome in outputs[0].cause
    assert feed(engine, [result(terminate.command_id, 1201.5, terminate_outcome)]) == []  # a redelivery: nothing
    assert engine.subject(result(terminate.command_id, 1201.5, terminate_outcome)) is None  # no longer in flight
    assert [c.kind for c in commands(outputs)] == ["probe"]  # examined again, nothing marked
    outputs = feed(engine, [probe(X, 1202, "running"), *heartbeats(X, 1205, 1400), *ticks(1205, 1400)])
    assert commands(outputs, "terminate") == [] and recoveries(outputs) == []  # never terminated again
    outputs = feed(engine, [*ticks(1405, 1500), probe(X, 1501, "not_found")])  # it ended without a word
    [mark] = commands(outputs, "mark_failed")
    outputs = feed(engine, [result(mark.command_id, 1502, "ok")])
    [event] = recoveries(outputs)
    assert event.action == "orphan_recovered" and event.error == ORPHAN_ERROR


def test_a_failed_command_is_retried_with_the_same_id() -> None:
    engine = Engine(Policy())
    feed(engine, [lifecycle("started", X, 0), tick(95)])
    [mark] = commands(feed(engine, [probe(X, 96, "not_found")]))
    outputs = feed(engine, [result(mark.command_id, 97, "failed"), *ticks(100, 130)])
    assert [c.command_id for c in commands(outputs)] == [mark.command_id]
    assert commands(outputs)[0].error == ORPHAN_ERROR


def test_mark_failed_answered_already_finished_announces_no_recovery() -> None:
    engine = Engine(Policy())
    feed(engine, [lifecycle("started", X, 0), tick(95)])
    [mark] = commands(feed(engine, [probe(X, 96, "not_found")]))
    outputs = feed(engine, [result(mark.command_id, 97, "already_finished")])
    assert transitions(outputs) == [("confirmed_orphan", "completed")]
    assert recoveries(outputs) == []


def test_a_command_result_stamped_by_a_skewed_clock_counts_at_the_watchdogs_time() -> None:
    engine = Engine(Policy(idle_after_s=10**6, auto_terminate=True))
    [terminate] = commands(alive_without_activity(engine, 1200, timeout_seconds=600))
    outputs = feed(engine, [result(terminate.command_id, 1200 + 3600, "ok")])  # the runner's clock: an hour fast
    [mark] = commands(outputs, "mark_failed")
    assert mark.at == at_time(1200)  # the last tick's time, not the claim
    assert mark.error == "Execution auto-terminated after 20 minutes by watchdog (exceeded timeout of 600s)"


def test_a_command_result_is_about_the_execution_its_command_was_for() -> None:
    engine = Engine(Policy(idle_after_s=10**6, auto_terminate=True))
    [terminate] = commands(alive_without_activity(engine, 1200, timeout_seconds=600))
    assert engine.subject(result(terminate.command_id, 1201, "ok")) == X
    assert engine.subject(result("unknown-command", 1201, "ok")) is None
    assert engine.subject(tick(1205)) is None
    [mark] = commands(feed(engine, [result(terminate.command_id, 1201, "ok")]), "mark_failed")
    assert engine.subject(result(terminate.command_id, 1202, "ok")) is None  # answered: no longer in flight
    assert engine.subject(result(mark.command_id, 1202, "ok")) == X
    feed(engine, [result(mark.command_id, 1202, "ok")])
    assert engine.subject(result(mark.command_id, 1203, "ok")) is None


def test_a_mark_after_a_retried_terminate_starts_its_own_attempts_and_backoff() -> None:
    engine = Engine(Policy(idle_after_s=10**6, auto_terminate=True, command_retry_s=30, command_retry_max_s=600))
    [terminate] = commands(alive_without_activity(engine, 1200, timeout_seconds=600))
    feed(engine, [result(terminate.command_id, 1201, "failed"), *ticks(1205, 1235)])  # retried at 1231
    feed(engine, [result(terminate.command_id, 1236, "failed"), *ticks(1240, 1300)])  # retried at 1296
    [mark] = commands(feed(engine, [result(terminate.command_id, 1301, "ok")]), "mark_failed")
    assert mark.attempt == 0 and mark.error is not None and terminate.error is None
    outputs = feed(engine, [result(mark.command_id, 1302, "failed"), *ticks(1305, 1335)])
    assert [c.at for c in commands(outputs, "mark_failed")] == [at_time(1335)]  # after COMMAND_RETRY_S, not 4x


def test_success_recorded_over_the_watchdogs_failure_mark_is_said_once_as_overridden() -> None:
    engine = Engine(Policy())
    feed(engine, [lifecycle("started", X, 0), tick(95)])
    [mark] = commands(feed(engine, [probe(X, 96, "not_found")]))
    feed(engine, [result(mark.command_id, 97, "ok")])
    outputs = feed(engine, [lifecycle("completed", X, 100)])  # Trinity's success write is unconditional
    [event] = recoveries(outputs)
    assert (event.action, event.state, event.error) == ("overridden", State.COMPLETED, None)
    assert event.reason.startswith(f"the platform recorded success at {at(100)}")
    assert "(orphan_recovered): counted as a false positive" in event.reason
    assert transitions(outputs) == [] and state(engine) is State.COMPLETED
    assert feed(engine, [lifecycle("completed", X, 101), lifecycle("completed", X, 102, event_id="other")]) == []


def test_an_end_the_platform_recorded_itself_is_no_override() -> None:
    engine = Engine(Policy())
    feed(engine, [lifecycle("started", X, 0), lifecycle("failed", X, 10)])
    assert feed(engine, [lifecycle("completed", X, 20)]) == []


def test_a_terminated_execution_whose_end_the_platform_wrote_first_is_announced_terminated_and_overridden() -> None:
    engine = Engine(Policy(idle_after_s=10**6, auto_terminate=True))
    [terminate] = commands(alive_without_activity(engine, 1200, timeout_seconds=600))
    [mark] = commands(feed(engine, [result(terminate.command_id, 1201, "ok")]), "mark_failed")
    outputs = feed(engine, [result(mark.command_id, 1202, "already_finished")])  # `cancelled` came first
    assert transitions(outputs) == [("idle", "completed")]
    terminated, overridden = recoveries(outputs)
    assert (terminated.action, terminated.error) == ("auto_terminated", None)  # not marked: no error text
    assert terminated.reason.startswith("ran 1201s, over its timeout of 600s; terminated on agent")
    assert overridden.action == "overridden" and "recorded its own end before" in overridden.reason


def test_success_over_an_auto_termination_names_it_and_counts_at_the_watchdogs_time() -> None:
    engine = Engine(Policy(idle_after_s=10**6, auto_terminate=True))
    [terminate] = commands(alive_without_activity(engine, 1200, timeout_seconds=600))
    [mark] = commands(feed(engine, [result(terminate.command_id, 1201, "ok")]), "mark_failed")
    feed(engine, [result(mark.command_id, 1202, "ok")])
    [event] = recoveries(feed(engine, [lifecycle("completed", X, 1200 + 3600)]))  # stamped an hour ahead
    assert event.action == "overridden" and "(auto_terminated): counted as a false positive" in event.reason
    assert event.decided_at == at_time(1200)  # the last tick's time, not the claim
