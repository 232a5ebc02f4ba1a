"""The mass-failure brake: many executions looking dead at once is an incident, not many kills."""

from __future__ import annotations

from exec_watchdog.adapters import snapshots
from schemas import Command, RecoveryEvent, State
from statemachine import Engine, Policy
from tests.events import lifecycle, probe, result, tick
from tests.statemachine.decisions import alive_without_activity, at_time

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
    assert all(c.error is None for c in kinds(released, "probe"))  # a probe carries no failure text
    assert over[0].execution_id == incident.execution_id  # the end names the incident it ends
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
    engine.apply(lifecycle("heartbeat", "over-time", 30))  # seen alive at its limit
    outputs = engine.apply(tick(30))  # over-time is due first (its timeout), then five fall silent
    assert len(incidents(outputs)) == 1
    assert kinds(outputs, "terminate") == []
    assert engine.records["over-time"].held and engine.records["over-time"].state is State.IDLE
    released = [
        o for t in range(35, 205, 5) for e in (lifecycle("heartbeat", "over-time", t), tick(t)) for o in engine.apply(e)
    ]
    assert [c.execution_id for c in kinds(released, "terminate")] == ["over-time"]


def hung_beside_a_fleet(engine: Engine) -> tuple[Command, list[str]]:
    """A beating execution overdue at 30 s, terminated then; ten others started at 5 s that beat never."""
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
    return terminate, ids


def test_a_terminate_that_succeeded_while_the_brake_held_is_marked_once_it_lets_go() -> None:
    engine = Engine(POLICY.model_copy(update={"auto_terminate": True}))
    terminate, ids = hung_beside_a_fleet(engine)
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
        if incidents(outputs) and incidents(outputs)[-1].reason.startswith("incident over"):
            break
    [terminate] = kinds(outputs, "terminate")  # in the very tick the brake lets go
    assert terminate.execution_id == "slow" and not engine.records["slow"].held
    [mark] = kinds(engine.apply(result(terminate.command_id, 96, "ok")), "mark_failed")
    [done] = [o for o in engine.apply(result(mark.command_id, 97, "ok")) if isinstance(o, RecoveryEvent)]
    assert done.action == "auto_terminated" and len(done.caused_by) == 2  # the release's tick, then the mark's result


def test_a_terminate_retry_that_comes_due_under_the_brake_waits_and_is_sent_with_its_id_after() -> None:
    engine = Engine(POLICY.model_copy(update={"auto_terminate": True, "command_retry_s": 30}))
    terminate, ids = hung_beside_a_fleet(engine)
    engine.apply(result(terminate.command_id, 31, "failed"))  # retry due at 61
    retries: dict[int, list[Command]] = {}
    for t in range(35, 200, 5):  # the fleet falls silent at 35 and beats again from 100
        outputs = [o for x in ids if t >= 100 for o in engine.apply(lifecycle("heartbeat", x, t))]
        outputs += engine.apply(lifecycle("heartbeat", "hung", t)) + engine.apply(tick(t))
        retries.update({t: kinds(outputs, "terminate")} if kinds(outputs, "terminate") else {})
        if t == 100:
            assert incidents(outputs)[0].reason.startswith("incident over")
    # due at 65 and 95 under the brake: each time put off by COMMAND_RETRY_S; sent at the first due after
    assert list(retries) == [125]
    [retry] = retries[125]
    assert (retry.command_id, retry.attempt) == (terminate.command_id, 1)


def test_a_retry_due_exactly_at_a_tick_is_sent_at_that_tick() -> None:
    engine = Engine(Policy(idle_after_s=10**6, auto_terminate=True, command_retry_s=30))
    [terminate] = kinds(alive_without_activity(engine, 1200, timeout_seconds=600), "terminate")
    engine.apply(result(terminate.command_id, 1200, "failed"))  # due again at 1230
    sent = {t: kinds(engine.apply(tick(t)), "terminate") for t in range(1205, 1240, 5)}
    assert [t for t, commands in sent.items() if commands] == [1230]


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


def test_the_spike_leaves_the_window_exactly_brake_window_s_after_it_was_seen() -> None:
    engine = Engine(POLICY)
    ids = fleet(engine, 20)
    engine.apply(tick(31))  # all 20 suspected at 31
    for x in ids:
        engine.apply(probe(x, 32, "not_found"))  # confirmed, held: they stay suspect
    assert incidents([o for t in range(35, 155, 5) for o in engine.apply(tick(t))]) == []
    assert incidents(engine.apply(tick(152))) == []  # 120 s after the last of them (confirmed at 32)
    [over] = incidents(engine.apply(tick(152.5)))
    assert over.reason.startswith("incident over")
    newcomers = [f"n-{n}" for n in range(10)]  # the 20 are probed again; 10 more start, then fall silent
    for x in newcomers:
        engine.apply(lifecycle("started", x, 153))
    [again] = incidents([o for t in range(155, 190, 5) for o in engine.apply(tick(t))])
    assert "10 executions of 30 tracked" in again.reason
    ended = [o for t in range(190, 330, 5) for o in engine.apply(tick(t))]
    assert [i.reason for i in incidents(ended)][-1].startswith("incident over: the spike left the window; 0 held")


def test_time_nobody_watched_does_not_age_the_spike_and_the_end_names_the_incident() -> None:
    engine = Engine(POLICY)
    ids = fleet(engine, 20)
    [incident] = incidents(engine.apply(tick(31)))
    for x in ids:
        engine.apply(probe(x, 32, "not_found"))
    assert incidents(engine.apply(tick(35 + 86400))) == []  # a day away: only three tick intervals of it count
    released = [o for t in range(86440, 86560, 5) for o in engine.apply(tick(t))]
    [over] = incidents(released)
    assert over.decided_at == at_time(86545) and over.execution_id == incident.execution_id


def test_an_agent_with_exactly_brake_min_executions_suspect_engages_it() -> None:
    [incident] = _silent_share([("steady-bot", 60, False), ("q-bot", 11, False), ("q-bot", 5, True)])
    assert incident.agent_name == "q-bot"  # 5 of 16 on q-bot; 5 of 76 in all


def test_an_agents_incident_holds_while_its_executions_are_suspect_and_ends_when_they_beat_again() -> None:
    engine = Engine(POLICY)
    steady = fleet(engine, 60, agent="steady-bot", prefix="s")
    q_bot = fleet(engine, 10, agent="q-bot", prefix="q")
    for x in steady:
        engine.apply(lifecycle("heartbeat", x, 25, agent_name="steady-bot"))
    [incident] = incidents(engine.apply(tick(31)))
    assert incident.agent_name == "q-bot"
    assert incidents(engine.apply(tick(35))) == [] and engine.brake.engaged  # 10 of q-bot's 10: still a spike
    for x in q_bot:
        engine.apply(lifecycle("heartbeat", x, 36, agent_name="q-bot"))
    [over] = incidents(engine.apply(tick(40)))
    assert over.reason.startswith("incident over") and over.execution_id == incident.execution_id


def test_a_failure_mark_decided_by_the_very_answer_that_engages_the_brake_is_held() -> None:
    engine = Engine(POLICY)
    steady, late, quiet = fleet(engine, 11, prefix="s"), fleet(engine, 1, prefix="late"), fleet(engine, 4, prefix="q")
    for t in range(5, 201, 5):
        for x in steady + (quiet if t < 150 else []):  # four fall silent at 145: suspected at 175
            engine.apply(lifecycle("heartbeat", x, t))
        engine.apply(tick(t))  # late-0 is suspected at 30 and its agent does not answer
    outputs = engine.apply(probe(late[0], 201, "not_found"))  # the fifth suspect within the window
    [incident] = incidents(outputs)
    assert "5 executions of 16 tracked" in incident.reason
    assert kinds(outputs, "mark_failed") == [] and engine.records[late[0]].held


def test_executions_cleared_by_their_recheck_count_again_when_they_fall_silent_again() -> None:
    engine = Engine(POLICY)
    ids = fleet(engine, 20)
    engine.apply(tick(31))
    for x in ids:
        engine.apply(probe(x, 32, "not_found"))  # held
    released = [o for t in range(35, 160, 5) for o in engine.apply(tick(t))]
    assert incidents(released)[-1].reason.startswith("incident over")
    for x in ids:
        engine.apply(probe(x, 161, "running"))  # the recheck finds them alive: no new spike
    again = [o for t in range(165, 200, 5) for o in engine.apply(tick(t))]  # silent again from 161
    [incident] = incidents(again)
    assert "20 executions of 20 tracked" in incident.reason


def test_silences_in_the_very_tick_the_brake_lets_go_are_a_new_spike() -> None:
    engine = Engine(POLICY)
    ids = fleet(engine, 20)
    engine.apply(tick(31))
    for x in ids:
        engine.apply(probe(x, 32, "not_found"))  # held until the spike leaves the window at 152.5
    for t in [*range(35, 155, 5), 152]:
        engine.apply(tick(t))
    for n in range(10):
        engine.apply(lifecycle("started", f"n-{n}", 122.5))  # silent from 152.5 on
    over, again = incidents(engine.apply(tick(152.5)))
    assert over.reason.startswith("incident over") and "10 executions of 30 tracked" in again.reason
