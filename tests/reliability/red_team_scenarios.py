"""The red team's named attacks, offline: each a history with a known truth (see `red_team.py`).

Every scenario runs with AUTO_TERMINATE on (a mistake would kill), beside a healthy worker that must
never be touched and a canary orphan that must still be found: an attack that blinds the watchdog
shows as a missed canary, one that makes it kill shows as a false kill.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from statemachine import Policy
from tests.reliability.red_team import Scenario

RUN_S = 1100.0
"""Shorter than every limit in play, so any terminate of healthy work is a false kill."""
POLICY = Policy(auto_terminate=True, idle_after_s=3000, default_timeout_s=3600, heartbeat_timeout_s=90, min_age_s=60)
DAY = 86400.0
YEAR = 365 * DAY


def base(name: str, attack: str, **fates: str) -> Scenario:
    s = Scenario(name, attack, {"worker-1": "alive", "canary-1": "dead", **fates}, POLICY)  # type: ignore[arg-type]
    s.event(0, "started", "worker-1")
    s.event(0, "started", "canary-1")
    for second in range(30, int(RUN_S), 30):
        s.event(second, "heartbeat", "worker-1")
        if second % 60 == 0:
            s.event(second, "activity", "worker-1")
    return s


def finish(s: Scenario, *, ticks: bool = True) -> Scenario:
    if ticks:
        s.ticks(RUN_S)
    return s


# ---- time ------------------------------------------------------------------------------------------


def fast_agent_clock() -> Scenario:
    s = base("agent clock 10 min fast", "time", **{"fast-1": "alive"})
    s.event(0, "started", "fast-1", timeout_seconds=1200)
    for second in range(30, int(RUN_S), 30):
        s.event(second, "heartbeat", "fast-1", stamped=second + 600, hostile=True)
    return finish(s)


def start_decades_ago() -> Scenario:
    """Believed as far as `start_time` allows: overdue, but only once watched one heartbeat timeout."""
    s = base("started stamped 30 years ago", "time", **{"old-1": "hung"})
    s.event(0, "started", "old-1", stamped=-30 * YEAR, hostile=True)
    for second in range(30, int(RUN_S), 30):
        s.event(second, "heartbeat", "old-1")
    return finish(s)


def start_in_the_future() -> Scenario:
    s = base("started stamped 10 years ahead, then dies", "time", **{"future-1": "dead"})
    s.event(0, "started", "future-1", stamped=10 * YEAR, hostile=True)
    return finish(s)


def heartbeat_from_tomorrow() -> Scenario:
    s = base("one heartbeat stamped a day ahead, then dies", "time", **{"zombie-1": "dead"})
    s.event(0, "started", "zombie-1")
    s.event(20, "heartbeat", "zombie-1", stamped=DAY, hostile=True)
    return finish(s)


def clock_jumps(offset: float, name: str) -> Callable[[], Scenario]:
    def build() -> Scenario:
        s = base(name, "time")
        s.ticks(300)
        s.tick(302, now=302 + offset, hostile=True)  # the host's clock jumps ...
        s.tick(304, now=304 + offset, hostile=True)
        s.ticks(RUN_S, start=305)  # ... and is put right
        s.event(400, "started", "late-canary-1")  # dies after the jump: still found
        s.fates["late-canary-1"] = "dead"
        return finish(s, ticks=False)

    return build


# ---- identity --------------------------------------------------------------------------------------


def another_agent_named() -> Scenario:
    s = base("heartbeats naming another agent", "identity", **{"claimed-1": "held"})
    s.event(0, "started", "claimed-1")
    for second in range(45, int(RUN_S), 60):
        s.event(second, "heartbeat", "claimed-1", agent_name="evil-bot", hostile=True)
    return finish(s)


def replayed_start() -> Scenario:
    s = base("a start replayed with a 60 s limit", "identity", **{"replayed-1": "alive"})
    s.event(0, "started", "replayed-1", event_id="start-replayed-1", timeout_seconds=3600)
    for second in range(30, int(RUN_S), 30):
        s.event(second, "heartbeat", "replayed-1")
    for second in (300, 600, 900):
        s.event(second, "started", "replayed-1", event_id="start-replayed-1", timeout_seconds=60, hostile=True)
    return finish(s)


def replayed_heartbeat() -> Scenario:
    s = base("a heartbeat id replayed with later stamps", "identity", **{"ghost-1": "dead"})
    s.event(0, "started", "ghost-1")
    s.event(30, "heartbeat", "ghost-1", event_id="beat-ghost-1")
    for second in range(60, int(RUN_S), 60):
        s.event(second, "heartbeat", "ghost-1", event_id="beat-ghost-1", hostile=True)
    return finish(s)


# ---- terminate -------------------------------------------------------------------------------------


def hung(name: str, fate: str) -> Callable[[], Scenario]:
    def build() -> Scenario:
        s = base(name, "terminate", **{"hung-1": fate})
        s.event(0, "started", "hung-1", timeout_seconds=300)
        for second in range(30, int(RUN_S), 30):
            if fate != "vanishing" or second < 300:
                s.event(second, "heartbeat", "hung-1")
        s.hostile += 1
        return finish(s)

    return build


# ---- records ---------------------------------------------------------------------------------------

BAD_LINES = [
    '{"schema_version": 1, "type": "execution.started", "attributes": ' + "[" * 5000 + "]" * 5000 + "}",
    json.dumps({"schema_version": 1, "type": "watchdog.tick", "now": "9999-12-31T23:59:59-12:00"}),
    json.dumps({"schema_version": 1, "type": "watchdog.tick", "now": "0001-01-01T00:00:00+14:00"}),
    json.dumps(
        {
            "schema_version": 1,
            "event_id": "e",
            "type": "execution.started",
            "execution_id": "..",
            "agent_name": "a",
            "occurred_at": "2026-01-01T00:00:00Z",
        }
    ),
    '{"schema_version": 1, "event_id": "e", "type": "execution.started", "execution_id": "x", "agent_name": "a", '
    '"occurred_at": "2026-01-01T00:00:00Z", "timeout_seconds": 1e400}',
    '{"schema_version": 1, "event_id": "e", "type": "execution.started", "execution_id": "x", "agent_name": "a", '
    '"occurred_at": "2026-01-01T00:00:00Z", "timeout_seconds": ' + "9" * 4000 + "}",
    json.dumps(
        {
            "schema_version": 1,
            "event_id": "\ud800",
            "type": "execution.heartbeat",
            "execution_id": "w",
            "agent_name": "a",
            "occurred_at": "2026-01-01T00:00:00Z",
        }
    ),
    json.dumps(
        {
            "schema_version": 1,
            "event_id": "e",
            "type": "execution.heartbeat",
            "execution_id": "ｗｏｒｋｅｒ",
            "agent_name": "a",
            "occurred_at": "2026-01-01T00:00:00Z",
        }
    ),
    '{"schema_version": 1, "type": "execution.heartbeat", "type": "watchdog.tick"}',
    "\x00\x01\x02 not json",
    '{"schema_version": 1, "event_id": "e", "type": "execution.heartbeat", "execution_id": "worker-1", '
    '"agent_name": "research-bot", "occurred_at": "2026-02-30T00:00:00Z"}',
]


def hostile_records() -> Scenario:
    s = base("records no rule foresaw", "records")
    for n, line in enumerate(BAD_LINES):
        s.add(100 + n, line, hostile=True)
    return finish(s)


# ---- agents (offline: what the runner reports of them) -------------------------------------------


def agent_outage() -> Scenario:
    s = base("the agent unreachable for 10 minutes", "agents", **{"canary-2": "dead"})
    s.event(0, "started", "canary-2")
    s.outage = (60, 660)
    s.hostile += 1
    return finish(s)


SCENARIOS: list[Callable[[], Scenario]] = [
    fast_agent_clock,
    start_decades_ago,
    start_in_the_future,
    heartbeat_from_tomorrow,
    clock_jumps(DAY, "host clock a day ahead, then right"),
    clock_jumps(-DAY, "host clock a day behind, then right"),
    clock_jumps(3 * 3600, "host clock 3 h ahead, then right"),
    another_agent_named,
    replayed_start,
    replayed_heartbeat,
    hung("terminate answered 2xx: a real kill", "hung"),
    hung("terminate answered 404: it had ended", "vanishing"),
    hung("terminate acknowledged, still running", "liar"),
    hostile_records,
    agent_outage,
]
