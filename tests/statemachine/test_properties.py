"""Properties of the core over random histories (hypothesis)."""

from __future__ import annotations

from dataclasses import astuple, dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import (
    Command,
    CommandResult,
    InputEvent,
    LifecycleEvent,
    Output,
    ProbeResult,
    RecoveryEvent,
    Tick,
    Transition,
)
from statemachine import Due, Engine, Policy, decide
from statemachine.timestamps import to_micros
from tests.events import AGENT, lifecycle, probe, result, tick
from tests.examples import examples

POLICY = Policy(
    heartbeat_timeout_s=20,
    min_age_s=15,
    idle_after_s=60,
    default_timeout_s=120,
    agent_timeouts={"b-bot": 60},
    auto_terminate=True,
    probe_retry_s=5,
    probe_retry_max_s=20,
    command_retry_s=5,
    command_retry_max_s=20,
    terminal_retention_s=200,
    brake_min_executions=6,
)
AGENT_OF = {"a": AGENT, "b": AGENT, "c": AGENT, "d": "b-bot", "e": "b-bot", "f": "c-bot", "g": "c-bot", "h": "c-bot"}
EXECUTIONS = sorted(AGENT_OF)
OTHER_AGENT = "other-bot"
LIFECYCLE = ["started", "heartbeat", "heartbeat", "activity", "completed", "failed", "cancelled"]
SKEW = st.one_of(st.integers(-5, 10), st.sampled_from([-(10**6), -3600, -90, -31, 16, 60, 3600, 10**6]))
"""Most sources are on time; some lag or run ahead by seconds to weeks."""
EVENT_ID = st.one_of(st.none(), st.none(), st.sampled_from(["dup-1", "dup-2", "dup-3"]))
"""Now and then an id already used, with other content."""

step = st.one_of(
    st.tuples(
        st.just("lifecycle"),
        st.sampled_from(LIFECYCLE),
        st.sampled_from(EXECUTIONS),
        SKEW,
        st.sampled_from([False, False, False, False, True]),  # another agent named
        EVENT_ID,
        st.sampled_from([None, None, 30, 90, 600]),  # the execution's own timeout (on `started`)
    ),
    st.tuples(st.just("tick"), st.one_of(st.integers(1, 30), st.sampled_from([0, -60, 3600]))),
    st.tuples(
        st.just("probe"),
        st.sampled_from(EXECUTIONS),
        st.sampled_from(["running", "not_found", "unreachable"]),
        st.sampled_from([0.5, 0.5, -30]),  # a stale answer now and then
    ),
    st.tuples(
        st.just("answer"),
        st.integers(0, 5),
        st.sampled_from(["ok", "already_finished", "not_found", "failed", "still_running"]),
        st.sampled_from([0.5, 0.5, -30]),
    ),
    st.tuples(st.just("repeat"), st.integers(0, 1000)),
    st.tuples(st.just("fleet"), st.sampled_from(["a", "d", "f"])),  # an agent's executions all start at once
)


@dataclass
class History:
    inputs: list[InputEvent] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)


def play(steps: list[tuple[object, ...]]) -> History:
    """Interpret abstract steps against a live engine: answers refer to commands actually issued."""
    engine, history, now = Engine(POLICY), History(), 0.0
    issued: list[Command] = []
    for s in steps:
        kind, events = s[0], []
        if kind == "lifecycle":
            _, what, x, skew, other, event_id, own = s
            extra = {} if own is None or what != "started" else {"timeout_seconds": own}
            agent = OTHER_AGENT if other else AGENT_OF[str(x)]
            events = [lifecycle(str(what), str(x), now + int(str(skew)), agent_name=agent, event_id=event_id, **extra)]
        elif kind == "tick":
            now += int(str(s[1]))
            events = [tick(now)]
        elif kind == "probe":
            events = [probe(str(s[1]), now + float(str(s[3])), str(s[2]), agent_name=AGENT_OF[str(s[1])])]
        elif kind == "answer":
            answerable = [c for c in issued if c.kind != "probe"]
            if answerable:
                command = answerable[int(str(s[1])) % len(answerable)]
                events = [result(command.command_id, now + float(str(s[3])), str(s[2]))]
        elif kind == "fleet":
            agent = AGENT_OF[str(s[1])]
            events = [lifecycle("started", x, now, agent_name=agent) for x in EXECUTIONS if AGENT_OF[x] == agent]
        elif history.inputs:
            events = [history.inputs[int(str(s[1])) % len(history.inputs)]]
        for event in events:
            history.inputs.append(event)
            decided = engine.apply(event)
            history.outputs += decided
            issued += [o for o in decided if isinstance(o, Command)]
    return history


def replay(inputs: list[InputEvent]) -> list[str]:
    engine = Engine(POLICY)
    return [o.model_dump_json(by_alias=True) for event in inputs for o in engine.apply(event)]


histories = st.lists(step, min_size=1, max_size=120).map(play)


@settings(max_examples=examples(300), deadline=None)
@given(histories)
def test_the_same_inputs_give_byte_identical_outputs(history: History) -> None:
    assert replay(history.inputs) == [o.model_dump_json(by_alias=True) for o in history.outputs]


@settings(max_examples=examples(300), deadline=None)
@given(histories)
def test_at_most_one_terminate_and_one_mark_failed_per_execution(history: History) -> None:
    for kind in ("terminate", "mark_failed"):
        ids: dict[str, set[str]] = {}
        for o in history.outputs:
            if isinstance(o, Command) and o.kind == kind:
                ids.setdefault(o.execution_id, set()).add(o.command_id)
        assert all(len(v) == 1 for v in ids.values()), (kind, ids)


@settings(max_examples=examples(300), deadline=None)
@given(histories)
def test_terminal_states_absorb_everything_after_them(history: History) -> None:
    ended: set[str] = set()
    for o in history.outputs:
        assert o.execution_id not in ended or (isinstance(o, RecoveryEvent) and o.state.is_terminal), o
        if isinstance(o, Transition) and o.to_state.is_terminal:
            ended.add(o.execution_id)


@settings(max_examples=examples(300), deadline=None)
@given(histories)
def test_no_mark_failed_without_a_not_found_probe_or_a_successful_terminate(history: History) -> None:
    engine = Engine(POLICY)
    evidence: set[str] = set()
    terminates: dict[str, str] = {}
    for event in history.inputs:
        if isinstance(event, ProbeResult) and event.outcome == "not_found":
            evidence.add(event.execution_id)
        if isinstance(event, CommandResult) and event.outcome == "ok" and event.command_id in terminates:
            evidence.add(terminates[event.command_id])  # only a termination that happened is evidence
        for o in engine.apply(event):
            if isinstance(o, Command) and o.kind == "terminate":
                terminates[o.command_id] = o.execution_id
            if isinstance(o, Command) and o.kind == "mark_failed":
                assert o.execution_id in evidence


@settings(max_examples=examples(200), deadline=None)
@given(histories, st.integers(0, 120))
def test_any_prefix_replayed_gives_a_prefix_of_the_outputs(history: History, cut: int) -> None:
    full = replay(history.inputs)
    partial = replay(history.inputs[:cut])
    assert full[: len(partial)] == partial


@settings(max_examples=examples(200), deadline=None)
@given(histories)
def test_redelivering_every_lifecycle_event_changes_nothing(history: History) -> None:
    doubled: list[InputEvent] = []
    for event in history.inputs:
        doubled.append(event)
        if isinstance(event, LifecycleEvent):
            doubled.append(event)
    assert replay(doubled) == replay(history.inputs)


@settings(max_examples=examples(200), deadline=None)
@given(histories, st.integers(0, 120))
def test_restoring_from_a_snapshot_at_any_point_changes_no_decision(history: History, cut: int) -> None:
    from exec_watchdog.adapters import snapshots

    full = replay(history.inputs)
    engine = Engine(POLICY)
    before = [o.model_dump_json(by_alias=True) for e in history.inputs[:cut] for o in engine.apply(e)]
    restored = snapshots.decode(snapshots.encode(engine), POLICY)
    after = [o.model_dump_json(by_alias=True) for e in history.inputs[cut:] for o in restored.apply(e)]
    assert before + after == full


BRAKING = POLICY.model_copy(update={"brake_min_executions": 2, "brake_share": 0.5, "brake_window_s": 60})


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(step, min_size=1, max_size=120))
def test_no_new_kill_is_issued_while_the_mass_failure_brake_holds(steps: list[tuple[object, ...]]) -> None:
    inputs = play(steps).inputs
    engine = Engine(BRAKING)
    for event in inputs:
        outputs = engine.apply(event)
        kills = [o for o in outputs if isinstance(o, Command) and o.kind != "probe" and o.attempt == 0]
        assert not (engine.brake.engaged and kills), (event, kills)


@settings(max_examples=examples(200), deadline=None)
@given(histories)
def test_decide_never_changes_the_record_it_is_given(history: History) -> None:
    """Records are slotted, not frozen (the engine moves `last_seen` in place): `decide` must copy."""
    engine = Engine(POLICY)
    for event in history.inputs:
        for record in list(engine.records.values()):
            before = astuple(record)
            probe_event = Due(to_micros(event.now)) if isinstance(event, Tick) else event
            if isinstance(probe_event, Due) or getattr(probe_event, "execution_id", None) == record.execution_id:
                decide(record, probe_event, POLICY, input_id="check", clock=engine.clock)  # type: ignore[arg-type]
            assert astuple(record) == before
        engine.apply(event)


@settings(max_examples=examples(300), deadline=None)
@given(histories)
def test_a_terminate_that_found_nothing_is_never_reported_as_a_termination(history: History) -> None:
    engine = Engine(POLICY)
    terminates: dict[str, str] = {}
    missed: set[str] = set()
    for event in history.inputs:
        if isinstance(event, CommandResult) and event.outcome in ("not_found", "already_finished"):
            missed |= {terminates[event.command_id]} if event.command_id in terminates else set()
        for o in engine.apply(event):
            if isinstance(o, Command) and o.kind == "terminate":
                terminates[o.command_id] = o.execution_id
            if isinstance(o, RecoveryEvent) and o.action == "auto_terminated":
                assert o.execution_id not in missed, o


@settings(max_examples=examples(300), deadline=None)
@given(histories)
def test_an_execution_two_agents_claim_is_never_probed_terminated_or_marked_again(history: History) -> None:
    engine = Engine(POLICY)
    contested: set[str] = set()
    for event in history.inputs:
        for o in engine.apply(event):
            assert not (isinstance(o, Command) and o.execution_id in contested), o
        contested = {x for x, r in engine.records.items() if r.conflict_agent is not None and not r.state.is_terminal}


@settings(max_examples=examples(300), deadline=None)
@given(histories)
def test_no_input_but_a_tick_moves_last_seen_backwards(history: History) -> None:
    """An older event or a stale answer never makes an execution look silent sooner (ticks alone move
    every time alike, when they take out time nobody watched)."""
    engine = Engine(POLICY)
    for event in history.inputs:
        before = {x: r.last_seen for x, r in engine.records.items()}
        engine.apply(event)
        if not isinstance(event, Tick):
            for x, r in engine.records.items():
                assert x not in before or r.last_seen >= before[x], (event, x)


@settings(max_examples=examples(300), deadline=None)
@given(histories)
def test_while_a_terminate_or_mark_is_in_flight_only_that_command_is_repeated(history: History) -> None:
    engine = Engine(POLICY)
    for event in history.inputs:
        in_flight = {x: r.action_id for x, r in engine.records.items() if r.action_id is not None}
        for o in engine.apply(event):
            if (
                isinstance(o, Command)
                and o.execution_id in in_flight
                and not _answers(event, in_flight[o.execution_id])
            ):
                assert o.command_id == in_flight[o.execution_id], (event, o)


def _answers(event: InputEvent, command_id: str) -> bool:
    return isinstance(event, CommandResult) and event.command_id == command_id


@settings(max_examples=examples(300), deadline=None)
@given(histories)
def test_an_orphan_is_marked_only_on_a_not_found_answer_received_while_it_was_suspected(history: History) -> None:
    engine = Engine(POLICY)
    evidence: set[str] = set()
    terminated: dict[str, str] = {}
    for event in history.inputs:
        record = engine.records.get(getattr(event, "execution_id", ""))
        suspected = record is not None and record.state.value == "suspected"
        if isinstance(event, ProbeResult) and event.outcome == "not_found" and suspected:
            evidence.add(event.execution_id)
        if isinstance(event, CommandResult) and event.outcome == "ok" and event.command_id in terminated:
            evidence.add(terminated[event.command_id])
        for o in engine.apply(event):
            if isinstance(o, Command) and o.kind == "terminate":
                terminated[o.command_id] = o.execution_id
            if isinstance(o, Command) and o.kind == "mark_failed" and o.attempt == 0:
                assert o.execution_id in evidence, (event, o)


@given(histories)
def test_an_execution_that_never_reported_activity_is_never_idle_for_lack_of_it(history: History) -> None:
    activity = [e for e in history.inputs if isinstance(e, LifecycleEvent) and e.type == "execution.activity"]
    active = {e.execution_id for e in activity}
    quiet_idle = [
        o.execution_id
        for o in history.outputs
        if isinstance(o, RecoveryEvent) and o.action == "idle_detected" and o.reason.startswith("alive but no activity")
    ]
    assert not set(quiet_idle) - active
