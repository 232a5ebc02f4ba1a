"""Golden histories: `exec-watchdog simulate` on recorded inputs gives exactly the recorded outputs.

Each case is `tests/golden/NAME.in.jsonl` (inputs), `NAME.env.json` (settings), `NAME.out.jsonl`
(decisions) and `NAME.err.txt` (rejected lines). After an intended change of behaviour, rewrite
the expectations with `UPDATE_GOLDEN=1 pytest tests/test_golden.py` and review the diff.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from exec_watchdog.audit.simulate import simulate as run_simulate
from exec_watchdog.settings import load_settings
from tests.paths import GOLDEN, ROOT

CASES = sorted(p.name.removesuffix(".in.jsonl") for p in GOLDEN.glob("*.in.jsonl"))


def simulate(case: str) -> subprocess.CompletedProcess[bytes]:
    settings = json.loads((GOLDEN / f"{case}.env.json").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")} | settings
    return subprocess.run(
        [sys.executable, "-m", "exec_watchdog", "simulate", str(GOLDEN / f"{case}.in.jsonl")],
        capture_output=True,
        env=env,
        check=True,
        cwd=ROOT,
    )


def simulate_here(case: str, monkeypatch: pytest.MonkeyPatch) -> tuple[bytes, bytes]:
    """The same, in this process: the settings through the same loader, `simulate` itself."""
    for name in [k for k in os.environ if k.startswith("WATCHDOG_")]:
        monkeypatch.delenv(name)
    for name, value in json.loads((GOLDEN / f"{case}.env.json").read_text()).items():
        monkeypatch.setenv(name, value)
    out, err = io.StringIO(), io.StringIO()
    with (GOLDEN / f"{case}.in.jsonl").open() as lines:
        run_simulate(lines, load_settings().policy(), out, err)
    return out.getvalue().encode(), err.getvalue().encode()


@pytest.mark.parametrize("case", CASES)
def test_simulate_reproduces_the_golden_history(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    stdout, stderr = simulate_here(case, monkeypatch)
    expected_out, expected_err = GOLDEN / f"{case}.out.jsonl", GOLDEN / f"{case}.err.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        assert os.environ.get("CI") != "true", "UPDATE_GOLDEN rewrites the expectations: never in CI"
        expected_out.write_bytes(stdout)
        expected_err.write_bytes(stderr)
    assert stdout.decode().splitlines() == expected_out.read_text().splitlines()
    assert stderr == expected_err.read_bytes()
    run = simulate(case)  # the real command line gives the same bytes
    assert (run.stdout, run.stderr) == (stdout, stderr), "the same input must give byte-identical output"


def test_there_are_golden_cases_for_each_recovery_path() -> None:
    assert {
        "orphan",
        "auto_terminate",
        "unreachable",
        "late_completion",
        "terminate_missed",
        "identity_conflict",
        "agent_outage",
    } <= set(CASES)


def test_every_edge_of_the_state_graph_and_every_recovery_action_has_a_golden_history() -> None:
    from statemachine.graph import TABLE

    edges = {(source.value, c.dest) for (source, _), candidates in TABLE.items() for c in candidates}
    seen, actions = set(), set()
    for case in CASES:
        for line in (GOLDEN / f"{case}.out.jsonl").read_text().splitlines():
            output = json.loads(line)
            if output["type"] == "transition":
                seen.add((output["from"], output["to"]))
            elif output["type"] == "watchdog.recovery":
                actions.add(output["action"])
        assert (GOLDEN / f"{case}.env.json").exists(), f"{case}: its settings belong beside it"
    assert edges - seen == set()
    decided = {"orphan_recovered", "auto_terminated", "idle_detected", "agent_unreachable", "incident", "overridden"}
    assert decided - actions == set()
