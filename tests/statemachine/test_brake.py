"""The mass-failure brake: many executions looking dead at once is an incident, not many kills."""

from __future__ import annotations

from exec_watchdog.adapters import snapshots
from schemas import Command, RecoveryEvent, State
from statemachine import Engine, Policy
from tests.events import lifecycle, probe, tick

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
