"""The mass-failure brake: many executions looking dead at once is an incident, not many kills."""

from __future__ import annotations

from exec_watchdog.adapters import snapshots
from schemas import Command, RecoveryEvent, State
from statemachine import Engine, Policy
from tests.events import lifecycle, probe, result, tick

POLICY = Policy(heartbeat_timeout_s=30, min_age_s=0, brake_min_executions=5, brake_share=0.3, brake_window_s=120)


def fleet(engine: Engine, count: int, agent: str = "research-bot", prefix: str = "x") -> list[str]:
    ids = [f"{prefix}-{n}" for n in range(count)]
    for x in ids:
        engine.apply(lifecycle("started", x, 0, agent_name=agent))
    return ids


def kinds(outputs: list[object], kind: str) -> list[Command]:
    return [o for o in outputs if isinstance(o, Command) and o.kind == kind]


def incidents(outputs: list[object]) -> list[RecoveryEvent]:
    return [o for o in outputs if isinstance(o, RecoveryEvent) and o.action == "incident"]


def test_a_fleet_going_silent_at_once_is_one_incident_and_no_kill_until_it_passes() -> None:
    engine = Engine(POLICY)
    ids = fleet(engine, 20)
    outputs = engine.apply(tick(31))  # the heartbeat pipeline broke: all 20 silent together
    assert len(kinds(outputs, "probe")) == 20
    [incident] = incidents(outputs)
    assert incident.execution_id.startswith("incident.") and incident.agent_name == "fleet"
    assert "20 executions of 20 tracked" in incident.reason and "x-0" in incident.reason
    for x in ids:  # the agents restarted and lost them: probes say not found
        outputs += engine.apply(probe(x, 32, "not_found"))
    assert kinds(outputs, "mark_failed") == []
    assert all(engine.records[x].state is State.CONFIRMED_ORPHAN and engine.records[x].held for x in ids)
    for t in range(35, 205, 5):  # ticks go on until the spike has left the 120 s window
        released = engine.apply(tick(t))
        if incidents(released):
            break
    over = incidents(released)
    assert len(over) == 1 and over[0].reason.startswith("incident over")
    assert len(kinds(released, "probe")) == 20  # probed again before anything is done
    assert all(engine.records[x].state is State.SUSPECTED for x in ids)
    marks = [o for x in ids for o in engine.apply(probe(x, 201, "not_found"))]
    assert len(kinds(marks, "mark_failed")) == 20  # still gone: now they are recovered


def test_a_network_partition_that_heals_kills_nothing() -> None:
    engine = Engine(POLICY)
    ids = fleet(engine, 12)
    outputs = engine.apply(tick(31))
    outputs += [o for x in ids for o in engine.apply(lifecycle("heartbeat", x, 33))]
    for second in range(40, 201, 20):  # the heartbeats flow again
        outputs += [o for x in ids for o in engine.apply(lifecycle("heartbeat", x, second))]
        outputs += engine.apply(tick(second + 5))
    assert len(incidents(outputs)) == 2  # engaged, then over
    assert kinds(outputs, "mark_failed") == [] and kinds(outputs, "terminate") == []
    assert all(engine.records[x].state is State.RUNNING for x in ids)


def test_a_few_independent_orphans_do_not_engage_it() -> None:
    engine = Engine(POLICY)
    fleet(engine, 40, prefix="ok")
    for n in range(4):
        engine.apply(lifecycle("started", f"lost-{n}", 0))
    for x in [f"ok-{n}" for n in range(40)]:
        engine.apply(lifecycle("heartbeat", x, 25))
    outputs = engine.apply(tick(31))
    outputs += [o for n in range(4) for o in engine.apply(probe(f"lost-{n}", 32, "not_found"))]
    assert incidents(outputs) == [] and len(kinds(outputs, "mark_failed")) == 4


def test_one_agents_fleet_restarting_engages_it_for_that_agent() -> None:
    engine = Engine(POLICY)
    fleet(engine, 40, agent="steady-bot", prefix="ok")
    fleet(engine, 6, agent="restarting-bot", prefix="r")
    for n in range(40):
        engine.apply(lifecycle("heartbeat", f"ok-{n}", 25, agent_name="steady-bot"))
    [incident] = incidents(engine.apply(tick(31)))
    assert incident.agent_name == "restarting-bot" and "of 6 tracked on agent restarting-bot" in incident.reason


def test_held_kills_survive_a_snapshot_and_a_retried_kill_waits_too() -> None:
    engine = Engine(POLICY.model_copy(update={"auto_terminate": True, "default_timeout_s": 3600}))
    ids = fleet(engine, 10)
    engine.apply(tick(31))
    restored = snapshots.decode(snapshots.encode(engine), engine.policy)
    assert restored.brake.engaged and len(restored.brake.recent) == 10
    outputs = [o for x in ids for o in restored.apply(probe(x, 32, "not_found"))]
    assert kinds(outputs, "mark_failed") == []


def test_switched_off_it_never_engages() -> None:
    engine = Engine(POLICY.model_copy(update={"brake_enabled": False}))
    ids = fleet(engine, 20)
    outputs = engine.apply(tick(31))
    outputs += [o for x in ids for o in engine.apply(probe(x, 32, "not_found"))]
    assert incidents(outputs) == [] and len(kinds(outputs, "mark_failed")) == 20


def test_a_kill_decided_in_the_very_tick_that_engages_the_brake_is_held_too() -> None:
    engine = Engine(POLICY.model_copy(update={"auto_terminate": True}))
    engine.apply(tick(0))
    engine.apply(lifecycle("started", "over-time", 0, timeout_seconds=10))  # watched 30 s before overdue
    fleet(engine, 5)
    for t in range(5, 30, 5):
        engine.apply(tick(t))
    engine.apply(lifecycle("heartbeat", "over-time", 25))
    outputs = engine.apply(tick(30))  # over-time is due first (its timeout), then five fall silent
    assert len(incidents(outputs)) == 1
    assert kinds(outputs, "terminate") == []
    assert engine.records["over-time"].held and engine.records["over-time"].state is State.IDLE
    released = [
        o for t in range(35, 205, 5) for e in (lifecycle("heartbeat", "over-time", t), tick(t)) for o in engine.apply(e)
    ]
    assert [c.execution_id for c in kinds(released, "terminate")] == ["over-time"]


def test_a_terminate_that_succeeded_while_the_brake_held_is_marked_once_it_lets_go() -> None:
    engine = Engine(POLICY.model_copy(update={"auto_terminate": True}))
    engine.apply(tick(0))
    engine.apply(lifecycle("started", "hung", 0, timeout_seconds=10))  # overdue once watched 30 s
    ids = [f"x-{n}" for n in range(10)]
    outputs: list[object] = []
    for t in range(5, 35, 5):
        if t == 5:
            outputs += [o for x in ids for o in engine.apply(lifecycle("started", x, 5))]
        outputs += engine.apply(lifecycle("heartbeat", "hung", t))
        outputs += engine.apply(tick(t))
    [terminate] = kinds(outputs, "terminate")  # at 30, before the fleet falls silent
    outputs = engine.apply(lifecycle("heartbeat", "hung", 35)) + engine.apply(tick(35))
    assert len(incidents(outputs)) == 1  # the fleet went silent at once: the brake holds
    outputs = engine.apply(result(terminate.command_id, 36, "ok"))
    assert kinds(outputs, "mark_failed") == [] and engine.records["hung"].held  # terminated; the mark waits
    released: list[object] = []
    for t in range(40, 200, 5):
        for x in ids:
            released += engine.apply(lifecycle("heartbeat", x, t))  # the fleet is back
        released += engine.apply(tick(t))
        if kinds(released, "mark_failed"):
            break
    [mark] = kinds(released, "mark_failed")
    assert mark.execution_id == "hung" and mark.attempt == 0
    assert mark.error == "Execution auto-terminated after 0 minutes by watchdog (exceeded timeout of 10s)"
    assert not engine.records["hung"].held
    done = engine.apply(result(mark.command_id, 201, "ok"))
    assert [o.action for o in done if isinstance(o, RecoveryEvent)] == ["auto_terminated"]


def test_a_timeout_reached_while_the_brake_holds_is_held_and_terminated_once_it_lets_go() -> None:
    engine = Engine(POLICY.model_copy(update={"auto_terminate": True, "idle_after_s": 10**6}))
    engine.apply(tick(0))
    engine.apply(lifecycle("started", "slow", 0, timeout_seconds=60))  # overdue at 60
    ids = fleet(engine, 10)
    outputs: list[object] = []
    for t in range(5, 100, 5):
        outputs += engine.apply(lifecycle("heartbeat", "slow", t))
        if t >= 70:
            outputs += [o for x in ids for o in engine.apply(lifecycle("heartbeat", x, t))]  # the fleet returns
        outputs += engine.apply(tick(t))
        if t == 60:
            assert engine.brake.engaged and engine.records["slow"].held and kinds(outputs, "terminate") == []
    [terminate] = kinds(outputs, "terminate")
    assert terminate.execution_id == "slow" and not engine.records["slow"].held


def _silent_share(groups: list[tuple[str, int, bool]]) -> list[object]:
    """(agent, how many, silent?): executions that beat, and others that fall silent together at 30 s."""
    engine = Engine(POLICY)
    for n, (agent, count, silent) in enumerate(groups):
        ids = fleet(engine, count, agent=agent, prefix=f"{agent}-{n}")
        if not silent:
            for x in ids:
                engine.apply(lifecycle("heartbeat", x, 25, agent_name=agent))
    return incidents(engine.apply(tick(31)))


def test_the_fleet_share_engages_the_brake_at_exactly_brake_share() -> None:
    spread = [("a-bot", 3, True), ("b-bot", 3, True)]  # no agent has BRAKE_MIN_EXECUTIONS of them
    [incident] = _silent_share([("steady-bot", 14, False), *spread])  # 6 of 20: 30 %
    assert incident.agent_name == "fleet" and "6 executions of 20 tracked" in incident.reason
    assert _silent_share([("steady-bot", 15, False), *spread]) == []  # 6 of 21


def test_an_agents_share_engages_it_at_exactly_brake_share_and_only_with_enough_executions() -> None:
    [incident] = _silent_share([("steady-bot", 60, False), ("q-bot", 14, False), ("q-bot", 6, True)])
    assert incident.agent_name == "q-bot" and "q-bot-2-0" in incident.reason and "steady-bot" not in incident.reason
    assert _silent_share([("steady-bot", 60, False), ("q-bot", 15, False), ("q-bot", 6, True)]) == []
    # four of four on one agent and one elsewhere: five in all, but no agent has BRAKE_MIN_EXECUTIONS
    assert _silent_share([("steady-bot", 60, False), ("small-bot", 4, True), ("other-bot", 1, True)]) == []


def test_an_incident_lists_up_to_incident_list_limit_executions_and_counts_the_rest() -> None:
    def reason(silent: int) -> str:
        engine = Engine(POLICY.model_copy(update={"incident_list_limit": 6}))
        fleet(engine, silent)
        [incident] = incidents(engine.apply(tick(31)))
        return incident.reason

    assert reason(6).endswith("x-0, x-1, x-2, x-3, x-4, x-5")
    assert reason(7).endswith("x-0, x-1, x-2, x-3, x-4, x-5 (+1 more)")
