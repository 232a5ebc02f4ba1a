"""Audit, verify, what-if and export over a history recorded by the real service."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from exec_watchdog.adapters.store import Store
from exec_watchdog.audit.replay import ReplayRequest, run_replay
from exec_watchdog.demo.standin_fleet import StandinFleet
from exec_watchdog.settings import Settings
from statemachine import rules
from tests.paths import ROOT
from tests.runtime.harness import (
    cli,
    create_topic,
    lifecycle,
    producer,
    read_topic,
    recoveries,
    running,
    test_settings,
    wall,
)

pytestmark = pytest.mark.kafka


@dataclass
class Recorded:
    settings: Settings
    later_settings: Settings
    between: str
    """A time after the first run and before the second."""


async def _scenario(bootstrap: str, tmp_path: Path, fleet: StandinFleet) -> Recorded:
    settings = test_settings(bootstrap, tmp_path, fleet, auto_terminate=True, checkpoint_interval_s=1.0)
    topic = settings.lifecycle_topic
    await create_topic(bootstrap, topic, 2)
    fleet.start_execution("etl-bot", "hung-1")
    fleet.start_execution("etl-bot", "healthy-1")
    fleet.start_execution("etl-bot", "steady-1")
    async with producer(bootstrap) as p:
        async with running(settings):
            await p.send_and_wait(topic, lifecycle("started", "orphan-1", "etl-bot", -5), key=b"orphan-1")
            await p.send_and_wait(topic, lifecycle("started", "hung-1", "etl-bot", timeout_seconds=2), key=b"hung-1")
            await p.send_and_wait(
                topic, lifecycle("started", "healthy-1", "etl-bot", timeout_seconds=60), key=b"healthy-1"
            )
            await p.send_and_wait(topic, lifecycle("started", "steady-1", "etl-bot"), key=b"steady-1")
            for _ in range(20):
                for x in ("hung-1", "healthy-1", "steady-1"):
                    await p.send_and_wait(topic, lifecycle("heartbeat", x, "etl-bot"), key=x.encode())
                await asyncio.sleep(0.2)
            await p.send_and_wait(topic, lifecycle("completed", "healthy-1", "etl-bot"), key=b"healthy-1")
            await p.send_and_wait(topic, lifecycle("completed", "steady-1", "etl-bot"), key=b"steady-1")
            await read_topic(
                bootstrap,
                settings.recoveries_topic,
                timeout_s=20,
                until=lambda rs: {"orphan_recovered", "auto_terminated"} <= {e["action"] for e in recoveries(rs)},
            )
            await asyncio.sleep(1.5)
        between = wall()
        await asyncio.sleep(0.5)
        # The service restarts with other thresholds; history goes on.
        later = test_settings(bootstrap, tmp_path, fleet, **{**_same_topics(settings), "heartbeat_timeout_s": 1.0})
        async with running(later):
            await p.send_and_wait(topic, lifecycle("started", "orphan-2", "etl-bot", -5), key=b"orphan-2")
            await read_topic(
                bootstrap,
                settings.recoveries_topic,
                timeout_s=20,
                until=lambda rs: "orphan-2" in {e["execution_id"] for e in recoveries(rs)},
            )
            await asyncio.sleep(1.5)
    return Recorded(settings, later, between)


def _same_topics(s: Settings) -> dict[str, object]:
    names = (
        "group_id",
        "lifecycle_topic",
        "recoveries_topic",
        "dlq_topic",
        "control_topic",
        "audit_topic",
        "database_url",
        "auto_terminate",
        "checkpoint_interval_s",
    )
    return {n: getattr(s, n) for n in names}


@pytest.fixture(scope="module")
def recorded(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    fleet = StandinFleet()
    fleet.start()
    try:
        yield asyncio.run(_scenario(kafka_bootstrap, tmp_path_factory.mktemp("recorded"), fleet))
    finally:
        fleet.stop()


def test_audit_explains_every_recovery(recorded: Recorded) -> None:
    orphan = cli(recorded.settings, "audit", "orphan-1")
    assert orphan.returncode == 0, orphan.stderr
    assert "now failed" in orphan.stdout and "running → suspected" in orphan.stdout
    assert "HEARTBEAT_TIMEOUT_S=1.5" in orphan.stdout and "does not know the execution" in orphan.stdout
    assert "orphan_recovered" in orphan.stdout and "recovered by watchdog" in orphan.stdout
    hung = json.loads(cli(recorded.settings, "audit", "hung-1", "--json").stdout)
    actions = [o["action"] for e in hung["entries"] for o in e["outputs"] if o["type"] == "watchdog.recovery"]
    assert actions == ["idle_detected", "auto_terminated"]
    assert {f["kind"] for f in hung["effects"]} >= {"terminate", "mark_failed"}
    assert all(values for values in hung["policies"].values())
    assert cli(recorded.settings, "audit", "never-seen").returncode == 1


def test_verify_passes_on_the_recorded_history_across_a_restart_with_new_settings(recorded: Recorded) -> None:
    run = cli(recorded.settings, "replay", "--verify")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "every decision identical" in run.stdout
    assert cli(recorded.settings, "replay", "--verify", "--execution", "orphan-2").returncode == 0


def test_verify_fails_on_a_tampered_record_and_shows_both_sides(recorded: Recorded) -> None:
    store = Store(recorded.settings.database_url, recorded.settings.group_id)
    with store.engine.begin() as conn:
        row_id, original = conn.execute(
            text(
                "SELECT id, outputs_json FROM decisions"
                " WHERE execution_id = 'orphan-1' AND outputs_json LIKE '%mark_failed%'"
            )
        ).one()
        conn.execute(text("UPDATE decisions SET outputs_json = '[]' WHERE id = :i"), {"i": row_id})
    try:
        run = cli(recorded.settings, "replay", "--verify")
        assert run.returncode == 1
        assert "first difference" in run.stdout and "orphan-1" in run.stdout and "≠outputs_json" in run.stdout
    finally:
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE decisions SET outputs_json = :o WHERE id = :i"), {"o": original, "i": row_id})
        store.close()


def test_verify_notices_when_the_code_decides_differently(recorded: Recorded, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(rules.GUARD_FUNCS, "old_enough", lambda rec, now, policy: False)  # a changed rule
    request = ReplayRequest("verify")
    assert run_replay(recorded.settings, request) == 1


def test_what_if_reports_earlier_recoveries_and_likely_false_positives(recorded: Recorded) -> None:
    run = cli(
        recorded.settings, "replay", "--what-if", "--set", "HEARTBEAT_TIMEOUT_S=0.5", "--set", "DEFAULT_TIMEOUT_S=1"
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "what-if: HEARTBEAT_TIMEOUT_S=0.5, DEFAULT_TIMEOUT_S=1"
    assert any(line.startswith("recovered earlier: ") and not line.endswith(": 0") for line in lines)
    false_positives = run.stdout.split("likely false positives")[1]
    assert '"steady-1"' in false_positives  # ran 4 s and completed; a 1 s default would have killed it
    assert '"healthy-1"' not in false_positives  # it had its own 60 s timeout
    shorter = cli(recorded.settings, "replay", "--what-if", "--set", 'AGENT_TIMEOUTS={"etl-bot": 3600}')
    assert shorter.returncode == 0 and "likely false positives (completed normally in the record): 0" in shorter.stdout


def test_export_replays_anywhere_with_simulate(recorded: Recorded, tmp_path: Path) -> None:
    exported = tmp_path / "orphan-1.jsonl"
    run = cli(recorded.settings, "replay", "--export", str(exported), "--execution", "orphan-1")
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    assert lines[0]["type"] == "watchdog.export" and lines[0]["policy"]["heartbeat_timeout_s"] == 1.5
    assert [line["partition"] for line in lines if line["type"] == "watchdog.export"] == [lines[0]["partition"]]
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")}  # the policy is in the file
    simulated = subprocess.run(
        [sys.executable, "-m", "exec_watchdog", "simulate", str(exported)],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    mine = [
        json.loads(line) for line in simulated.stdout.splitlines() if json.loads(line)["execution_id"] == "orphan-1"
    ]
    store = Store(recorded.settings.database_url, recorded.settings.group_id)
    recorded_outputs = [o for r in store.audit.for_execution("orphan-1") for o in json.loads(r.outputs_json)]
    store.close()
    assert mine == recorded_outputs and any(o["type"] == "watchdog.recovery" for o in mine)


def test_a_whole_export_reproduces_every_recorded_decision_with_simulate(recorded: Recorded, tmp_path: Path) -> None:
    """Both partitions, across the restart with new settings (a policy line), with no settings given."""
    exported = tmp_path / "all.jsonl"
    run = cli(recorded.settings, "replay", "--export", str(exported))
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    assert [line["partition"] for line in lines if line["type"] == "watchdog.export"] == [0, 1]
    assert any(line["type"] == "watchdog.policy" for line in lines)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")}
    simulated = subprocess.run(
        [sys.executable, "-m", "exec_watchdog", "simulate", str(exported)], env=env, capture_output=True, text=True
    )
    assert simulated.returncode == 0 and simulated.stderr == ""
    store = Store(recorded.settings.database_url, recorded.settings.group_id)
    topic = recorded.settings.lifecycle_topic
    expected = [o for p in (0, 1) for r in store.audit.for_partition(topic, p) for o in json.loads(r.outputs_json)]
    store.close()
    assert [json.loads(line) for line in simulated.stdout.splitlines()] == expected
    actions = {o["action"] for o in expected if o["type"] == "watchdog.recovery"}
    assert actions >= {"orphan_recovered", "auto_terminated"}


def test_since_starts_the_replay_and_the_export_at_that_time(recorded: Recorded, tmp_path: Path) -> None:
    exported = tmp_path / "since.jsonl"
    run = cli(recorded.settings, "replay", "--export", str(exported), "--since", recorded.between)
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    inputs = [e for e in lines if e["type"] not in ("watchdog.export", "watchdog.policy")]
    assert {e.get("execution_id") for e in inputs} >= {"orphan-2"}
    since = datetime.fromisoformat(recorded.between)
    assert all(
        datetime.fromisoformat(e.get("occurred_at") or e.get("now") or e["observed_at"]) >= since for e in inputs
    )
    assert not [e for e in inputs if e.get("execution_id") == "orphan-1" and e["type"] == "execution.started"]
    full = cli(recorded.settings, "replay", "--verify")
    later = cli(recorded.settings, "replay", "--verify", "--since", recorded.between)
    assert later.returncode == 0, later.stdout + later.stderr

    def applied(run: subprocess.CompletedProcess[str]) -> int:
        return int(run.stdout.split("replay --verify: ")[1].split(" inputs")[0])

    assert 0 < applied(later) < applied(full)
