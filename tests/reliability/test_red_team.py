"""The red team: every attack class as named scenarios, offline through `simulate` and live against the
broker with hostile loopback agents. None may make the watchdog kill healthy work, go blind, or stop.

`RED_TEAM_TABLE=1 pytest tests/reliability/test_red_team.py -s` prints the table of docs/RELIABILITY.md.
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from exec_watchdog.demo.standin_fleet import StandinFleet
from tests.reliability.red_team import Scenario, Verdict, play, seconds_after_t0
from tests.reliability.red_team_scenarios import BAD_LINES, POLICY, SCENARIOS
from tests.runtime.harness import (
    create_topic,
    decided,
    lifecycle,
    producer,
    read_topic,
    recoveries,
    running,
    test_settings,
)
from tests.services.hostile_agents import MODES, hostile

VERDICTS: dict[str, tuple[Scenario, Verdict]] = {}


@pytest.mark.parametrize("build", SCENARIOS, ids=lambda b: b().name)
def test_an_attack_kills_nothing_blinds_nothing_and_stops_nothing(build: Callable[[], Scenario]) -> None:
    scenario = build()
    verdict = play(scenario)
    VERDICTS[scenario.name] = (scenario, verdict)
    assert verdict.crashed is None
    assert verdict.false_kills == [], verdict.false_kills
    assert verdict.missed == [], verdict.missed
    assert verdict.actions("worker-1") == []  # the healthy worker is never even reported


def test_what_each_attack_is_answered_with() -> None:
    by_name = {b().name: b for b in SCENARIOS}
    liar = play(by_name["terminate acknowledged, still running"]())
    assert liar.actions("hung-1") == ["idle_detected", "incident", "auto_terminated"]
    vanished = play(by_name["terminate answered 404: it had ended"]())
    assert vanished.actions("hung-1") == ["idle_detected", "orphan_recovered"]
    held = play(by_name["heartbeats naming another agent"]())
    assert held.actions("claimed-1") == ["incident"]
    outage = play(by_name["the agent unreachable for 10 minutes"]())
    assert [o["action"] for o in outage.outputs if o.get("action") == "agent_unreachable"] == ["agent_unreachable"]
    old = play(by_name["started stamped 30 years ago"]())
    [terminate] = [o for o in old.outputs if o["type"] == "command" and o["kind"] == "terminate"]
    assert seconds_after_t0(terminate["at"]) >= POLICY.heartbeat_timeout_s, terminate  # never at the first tick
    records = play(by_name["records no rule foresaw"]())
    assert records.rejected == len(BAD_LINES)


def test_the_table() -> None:
    """The figures of docs/RELIABILITY.md, from the scenarios above (printed with RED_TEAM_TABLE=1)."""
    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for build in SCENARIOS:
        scenario = build()
        scenario_verdict = VERDICTS.get(scenario.name)
        verdict = play(scenario) if scenario_verdict is None else scenario_verdict[1]
        row = rows[scenario.attack]
        row[0] += 1
        row[1] += scenario.hostile
        row[2] += len(verdict.false_kills)
        row[3] += len(verdict.missed)
        row[4] += verdict.crashed is not None
    assert all(r[2] == r[3] == r[4] == 0 for r in rows.values())
    if os.environ.get("RED_TEAM_TABLE"):
        print("\n| attack class | scenarios | hostile inputs | false kills | missed detections | crashes |")
        print("|---|---|---|---|---|---|")
        for attack, r in rows.items():
            print(f"| {attack} | {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} |")


# ---- live: hostile agents beside a healthy one, on the real broker ------------------------------------


@pytest.mark.kafka
async def test_hostile_agents_cause_no_kill_and_delay_no_recovery_elsewhere(
    kafka_bootstrap: str, tmp_path: Path, fleet: StandinFleet, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="exec_watchdog.service.effects")
    agents = {f"evil-{mode.replace('_', '-')}": hostile(mode) for mode in MODES}
    servers = {name: cm.__enter__() for name, cm in agents.items()}
    try:
        settings = test_settings(
            kafka_bootstrap,
            tmp_path,
            fleet,
            auto_terminate=True,
            agent_timeout_s=4,
            agent_urls={name: server.url_template for name, server in servers.items()},
        )
        await create_topic(kafka_bootstrap, settings.lifecycle_topic, 2)
        victims = {f"victim-{name}": name for name in servers}
        async with running(settings) as service, producer(kafka_bootstrap) as p:
            topic = settings.lifecycle_topic
            for x, agent in victims.items():
                await p.send_and_wait(topic, lifecycle("started", x, agent, -5), key=x.encode())
            sent = time.monotonic()
            await p.send_and_wait(topic, lifecycle("started", "gone-1", "ok-bot", -5), key=b"gone-1")
            records = await read_topic(
                kafka_bootstrap,
                settings.recoveries_topic,
                timeout_s=40,
                until=lambda rs: (
                    bool(recoveries(rs, "orphan_recovered"))
                    and {e["agent_name"] for e in recoveries(rs, "agent_unreachable")} >= set(servers)
                ),
            )
            took = time.monotonic() - sent
            alive = bool(service.owned())  # still consuming (a crash would also surface as the block ends)
    finally:
        for cm in agents.values():
            cm.__exit__(None, None, None)
    assert alive
    assert [e["execution_id"] for e in recoveries(records, "orphan_recovered")] == ["gone-1"]
    assert took < 15, took
    unreachable = decided(records, "agent_unreachable")
    assert sorted(e["agent_name"] for e in unreachable) == sorted(servers)  # one per agent
    kills = [e for e in recoveries(records) if e["execution_id"] in victims and e["action"] != "agent_unreachable"]
    assert kills == []
    assert all(server.requests > 0 for server in servers.values())
    said = caplog.text  # the log says why each agent counted as unreachable
    assert "agent evil-hang did not answer GET /api/executions/running: no whole reply within 4 s" in said
    assert "agent evil-redirect did not answer GET /api/executions/running: HTTP 302" in said
    assert "agent evil-huge did not answer GET /api/executions/running: reply larger than 4194304 bytes" in said
