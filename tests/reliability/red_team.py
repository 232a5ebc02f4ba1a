"""The red team's offline playground: a hostile history through `simulate`, agents answering from a truth.

A scenario is a stream of inputs in arrival order (lifecycle events, ticks, raw hostile lines) and the
truth about each execution (`Fate`). `play` runs the stream through `simulate` (the command's own
function), answers every command the way the truth says an agent or the platform would (a second
after it was decided), and runs again until no new command appears: simulate is pure, so each run
decides the same as the last up to the new answers. The verdict counts what a watchdog must never do.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from exec_watchdog.audit.simulate import simulate
from statemachine import Policy
from tests.events import AGENT, at, lifecycle_json

Fate = Literal["alive", "dead", "hung", "vanishing", "liar", "held"]
"""alive: healthy work, never to be killed. dead: the agent lost it (an orphan: detect it). hung: runs
past its limit (auto-terminate it). vanishing: hung, but it ends by itself as the terminate arrives
(no termination: the orphan path). liar: hung, and the agent acknowledges the first terminate without
ending it. held: named by two agents (never act on it)."""

KILLED = frozenset({"dead", "hung", "vanishing", "liar"})
EXPECTED = {
    "dead": "orphan_recovered",
    "hung": "auto_terminated",
    "vanishing": "orphan_recovered",
    "liar": "auto_terminated",
}


@dataclass
class Scenario:
    name: str
    attack: str
    """The attack class (the table in docs/RELIABILITY.md)."""
    fates: dict[str, Fate]
    policy: Policy = field(default_factory=Policy)
    lines: list[tuple[float, str]] = field(default_factory=list)
    """(arrival, JSON line): the order the watchdog reads them in."""
    hostile: int = 0
    """How many of the lines are the attack itself."""
    outage: tuple[float, float] | None = None
    """Probes between these two arrivals are answered `unreachable`."""

    def add(self, arrival: float, line: str, *, hostile: bool = False) -> None:
        self.lines.append((arrival, line))
        self.hostile += hostile

    def event(self, arrival: float, kind: str, x: str, stamped: float | None = None, **extra: Any) -> None:
        hostile = bool(extra.pop("hostile", False))
        self.add(arrival, lifecycle_json(kind, x, arrival if stamped is None else stamped, **extra), hostile=hostile)

    def ticks(self, until: float, every: float = 5, start: float = 0) -> None:
        n = 0
        while start + n * every <= until:
            self.tick(start + n * every)
            n += 1

    def tick(self, arrival: float, now: float | None = None, *, hostile: bool = False) -> None:
        line = json.dumps({"schema_version": 1, "type": "watchdog.tick", "now": at(arrival if now is None else now)})
        self.add(arrival, line, hostile=hostile)


@dataclass
class Verdict:
    outputs: list[dict[str, Any]]
    rejected: int
    false_kills: list[str]
    missed: list[str]
    crashed: str | None

    def actions(self, x: str) -> list[str]:
        return [o["action"] for o in self.outputs if o.get("action") and o["execution_id"] == x]


def play(scenario: Scenario, rounds: int = 20) -> Verdict:
    answers: dict[str, tuple[float, str]] = {}
    outputs: list[dict[str, Any]] = []
    rejected, crashed = 0, None
    for _ in range(rounds):
        given = [(a, 0, n, line) for n, (a, line) in enumerate(scenario.lines)]
        stream = sorted(given + [(a, 1, n, line) for n, (a, line) in enumerate(answers.values())])
        out, err = io.StringIO(), io.StringIO()
        try:
            rejected = simulate((line for *_, line in stream), scenario.policy, out, err)
        except Exception as error:  # a crash is the verdict, not the test's end
            crashed = f"{type(error).__name__}: {error}"
            break
        outputs = [json.loads(line) for line in out.getvalue().splitlines()]
        new = {key: answer for key, answer in _answers(scenario, outputs).items() if key not in answers}
        if not new:
            break
        answers.update(new)
    return _judge(scenario, outputs, rejected, crashed)


def seconds_after_t0(stamp: str) -> float:
    return (datetime.fromisoformat(stamp) - datetime.fromisoformat(at(0))).total_seconds()


def _answers(scenario: Scenario, outputs: list[dict[str, Any]]) -> dict[str, tuple[float, str]]:
    """Every command answered from the truth, keyed so a command is answered once per attempt."""
    answered: dict[str, tuple[float, str]] = {}
    terminated: set[str] = set()
    for o in outputs:
        if o["type"] != "command":
            continue
        x, kind, when = o["execution_id"], o["kind"], seconds_after_t0(o["at"]) + 1
        fate = scenario.fates.get(x, "alive")
        if kind == "probe":
            down = scenario.outage is not None and scenario.outage[0] <= when < scenario.outage[1]
            gone = fate == "dead" or (fate == "vanishing" and x in terminated)
            outcome = "unreachable" if down else ("not_found" if gone else "running")
            line = {
                "type": "watchdog.probe_result",
                "execution_id": x,
                "agent_name": o["agent_name"],
                "outcome": outcome,
            }
            key = f"probe/{o['command_id']}"
        else:
            if kind == "terminate":
                first = x not in terminated
                terminated.add(x)
                outcome = {"vanishing": "not_found", "liar": "still_running" if first else "ok"}.get(fate, "ok")
            else:
                outcome = "ok"
            line = {"type": "watchdog.command_result", "command_id": o["command_id"], "outcome": outcome}
            prefix = f"{kind}/{o['command_id']}/"
            key = prefix + str(sum(1 for k in answered if k.startswith(prefix)))
        answered[key] = (when, json.dumps({"schema_version": 1, **line, "observed_at": at(when)}))
    return answered


def _judge(scenario: Scenario, outputs: list[dict[str, Any]], rejected: int, crashed: str | None) -> Verdict:
    killed = {
        o["execution_id"] for o in outputs if o["type"] == "command" and o["kind"] in ("terminate", "mark_failed")
    }
    recovered = {
        (o["execution_id"], o["action"]) for o in outputs if o.get("action") in ("orphan_recovered", "auto_terminated")
    }
    fates = scenario.fates
    false_kills = sorted(x for x in killed if fates.get(x, "alive") not in KILLED)
    false_kills += sorted(x for x, action in recovered if fates.get(x) in EXPECTED and EXPECTED[fates[x]] != action)
    missed = sorted(x for x, fate in fates.items() if fate in EXPECTED and (x, EXPECTED[fate]) not in recovered)
    return Verdict(outputs, rejected, false_kills, missed, crashed)


__all__ = ["AGENT", "Scenario", "Verdict", "play", "seconds_after_t0"]
