"""What the watchdog decides, behaviour by behaviour (issue: core, section 4)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import pytest

from schemas import Command, InputEvent, Output, RecoveryEvent, State, Transition
from statemachine import Engine, Policy
from statemachine.texts import ORPHAN_ERROR
from tests.events import AGENT, at, lifecycle, probe, result, tick, when

X = "exec-1"


def feed(engine: Engine, events: Iterable[InputEvent]) -> list[Output]:
    return [output for event in events for output in engine.apply(event)]


def transitions(outputs: list[Output]) -> list[tuple[str, str]]:
    return [(o.from_state.value, o.to_state.value) for o in outputs if isinstance(o, Transition)]


def commands(outputs: list[Output], kind: str | None = None) -> list[Command]:
    return [o for o in outputs if isinstance(o, Command) and (kind is None or o.kind == kind)]


def recoveries(outputs: list[Output], action: str | None = None) -> list[RecoveryEvent]:
    return [o for o in outputs if isinstance(o, RecoveryEvent) and (action is None or o.action == action)]


def ticks(start: float, stop: float, every: float = 5) -> list[InputEvent]:
    count = int((stop - start) / every) + 1
    return [tick(start + i * every) for i in range(count)]


def heartbeats(execution_id: str, start: float, stop: float, every: float = 30) -> list[InputEvent]:
    count = int((stop - start) / every) + 1
    return [lifecycle("heartbeat", execution_id, start + i * every) for i in range(count)]


def interleave(*streams: list[InputEvent]) -> list[InputEvent]:
    """Merge event streams by event time, ticks last among equals (as the runtime applies them)."""

    def key(event: InputEvent) -> tuple[object, int]:
        moment = getattr(event, "now", None) or getattr(event, "occurred_at", None) or event.observed_at
        return moment, 1 if event.type == "watchdog.tick" else 0

    return sorted((e for s in streams for e in s), key=key)


def at_time(seconds: float) -> object:
    return when(seconds)


def state(engine: Engine, execution_id: str = X) -> State:
    return engine.records[execution_id].state


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


def test_a_probe_that_finds_it_running_clears_the_suspicion() -> None:
    engine = Engine(Policy(idle_after_s=10**6))
    feed(engine, [lifecycle("started", X, 0), tick(95)])
    outputs = feed(engine, [probe(X, 96, "running"), *ticks(100, 180)])
    assert transitions(outputs) == [("suspected", "running")]
    assert commands(outputs, "mark_failed") == []


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


def alive_without_activity(engine: Engine, until: float, **started: object) -> list[Output]:
    return feed(engine, interleave([lifecycle("started", X, 0, **started)], heartbeats(X, 30, until), ticks(5, until)))


def test_alive_without_activity_is_idle_and_announced_once() -> None:
    engine = Engine(Policy(idle_after_s=600, default_timeout_s=10**6))
    outputs = alive_without_activity(engine, 1800)
    assert transitions(outputs) == [("running", "idle")]
    [event] = recoveries(outputs)
    assert event.action == "idle_detected" and event.state is State.IDLE and event.error is None
    assert commands(outputs) == []


def test_activity_clears_idleness() -> None:
    engine = Engine(Policy(idle_after_s=600, default_timeout_s=10**6))
    alive_without_activity(engine, 700)
    outputs = feed(engine, [lifecycle("activity", X, 701)])
    assert transitions(outputs) == [("idle", "running")]


def test_past_its_timeout_without_auto_terminate_it_is_only_reported() -> None:
    engine = Engine(Policy(idle_after_s=10**6))
    outputs = alive_without_activity(engine, 1200, timeout_seconds=600)
    assert [e.action for e in recoveries(outputs)] == ["idle_detected"]
    assert "AUTO_TERMINATE is off" in recoveries(outputs)[0].reason
    assert commands(outputs) == []


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
    assert [c.kind for c in commands(outputs)] == ["probe"]  # examined again, nothing marked
    outputs = feed(engine, [probe(X, 1202, "running"), *heartbeats(X, 1205, 1400), *ticks(1205, 1400)])
    assert commands(outputs, "terminate") == [] and recoveries(outputs) == []  # never terminated again
    outputs = feed(engine, [*ticks(1405, 1500), probe(X, 1501, "not_found")])  # it ended without a word
    [mark] = commands(outputs, "mark_failed")
    outputs = feed(engine, [result(mark.command_id, 1502, "ok")])
    [event] = recoveries(outputs)
    assert event.action == "orphan_recovered" and event.error == ORPHAN_ERROR


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


def test_a_failed_command_is_retried_with_the_same_id() -> None:
    engine = Engine(Policy())
    feed(engine, [lifecycle("started", X, 0), tick(95)])
    [mark] = commands(feed(engine, [probe(X, 96, "not_found")]))
    outputs = feed(engine, [result(mark.command_id, 97, "failed"), *ticks(100, 130)])
    assert [c.command_id for c in commands(outputs)] == [mark.command_id]
    assert commands(outputs)[0].error == ORPHAN_ERROR


# ---- unreachable agents ---------------------------------------------------------------------------------


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


def test_mark_failed_answered_already_finished_announces_no_recovery() -> None:
    engine = Engine(Policy())
    feed(engine, [lifecycle("started", X, 0), tick(95)])
    [mark] = commands(feed(engine, [probe(X, 96, "not_found")]))
    outputs = feed(engine, [result(mark.command_id, 97, "already_finished")])
    assert transitions(outputs) == [("confirmed_orphan", "completed")]
    assert recoveries(outputs) == []


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


def test_a_command_result_stamped_by_a_skewed_clock_counts_at_the_watchdogs_time() -> None:
    engine = Engine(Policy(idle_after_s=10**6, auto_terminate=True))
    [terminate] = commands(alive_without_activity(engine, 1200, timeout_seconds=600))
    outputs = feed(engine, [result(terminate.command_id, 1200 + 3600, "ok")])  # the runner's clock: an hour fast
    [mark] = commands(outputs, "mark_failed")
    assert mark.at == at_time(1200)  # the last tick's time, not the claim
    assert mark.error == "Execution auto-terminated after 20 minutes by watchdog (exceeded timeout of 600s)"


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


def test_a_command_result_is_about_the_execution_its_command_was_for() -> None:
    engine = Engine(Policy(idle_after_s=10**6, auto_terminate=True))
    [terminate] = commands(alive_without_activity(engine, 1200, timeout_seconds=600))
    assert engine.subject(result(terminate.command_id, 1201, "ok")) == X
    assert engine.subject(result("unknown-command", 1201, "ok")) is None
    assert engine.subject(tick(1205)) is None


def test_a_mark_after_a_retried_terminate_starts_its_own_attempts_and_backoff() -> None:
    engine = Engine(Policy(idle_after_s=10**6, auto_terminate=True, command_retry_s=30, command_retry_max_s=600))
    [terminate] = commands(alive_without_activity(engine, 1200, timeout_seconds=600))
    feed(engine, [result(terminate.command_id, 1201, "failed"), *ticks(1205, 1235)])  # retried at 1231
    feed(engine, [result(terminate.command_id, 1236, "failed"), *ticks(1240, 1300)])  # retried at 1296
    [mark] = commands(feed(engine, [result(terminate.command_id, 1301, "ok")]), "mark_failed")
    assert mark.attempt == 0 and mark.error is not None and terminate.error is None
    outputs = feed(engine, [result(mark.command_id, 1302, "failed"), *ticks(1305, 1335)])
    assert [c.at for c in commands(outputs, "mark_failed")] == [at_time(1335)]  # after COMMAND_RETRY_S, not 4x


def test_an_answer_ends_only_its_own_agents_outage() -> None:
    engine = Engine(Policy(idle_after_s=10**6))
    feed(engine, [lifecycle("started", "a-1", 0), lifecycle("started", "b-1", 0, agent_name="b-bot")])
    feed(engine, [lifecycle("started", "b-2", 0, agent_name="b-bot"), *ticks(5, 90)])
    outputs = feed(engine, [probe("a-1", 91, "unreachable"), probe("b-1", 91, "unreachable", agent_name="b-bot")])
    assert [e.agent_name for e in recoveries(outputs, "agent_unreachable")] == [AGENT, "b-bot"]
    outputs = feed(engine, [probe("a-1", 92, "running")])  # research-bot is back; b-bot is not
    outputs += feed(engine, [probe("b-2", 93, "unreachable", agent_name="b-bot")])
    assert recoveries(outputs, "agent_unreachable") == []  # still b-bot's first outage
