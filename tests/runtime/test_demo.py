"""`exec-watchdog demo`: the story ends with every kind of recovery, and nothing is left running."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.kafka


def start_demo(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")}
    return subprocess.Popen(
        [sys.executable, "-m", "exec_watchdog", "demo", "--plain", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )  # like a terminal, signals reach the demo alone


def broker_pid(first_line: str) -> int:
    match = re.search(r"\(pid (\d+)\)", first_line)
    assert match, first_line
    return int(match.group(1))


def gone(pid: int, within_s: float = 5) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP], ids=["ctrl-c", "terminal-closed"])
def test_ctrl_c_or_a_closed_terminal_ends_the_demo_early_and_stops_everything_it_started(
    tmp_path: Path, sig: signal.Signals
) -> None:
    demo = start_demo(tmp_path, "--duration", "120")
    assert demo.stdout is not None
    first = demo.stdout.readline()
    time.sleep(6)
    demo.send_signal(sig)
    out, _ = demo.communicate(timeout=30)
    assert demo.returncode == 0 and "summary" in out
    assert gone(broker_pid(first))


def test_the_demo_tells_its_story_recovers_what_is_stuck_ends_when_told_and_cleans_up(tmp_path: Path) -> None:
    demo = start_demo(tmp_path, "--duration", "150")
    started = time.monotonic()
    out, _ = demo.communicate(timeout=200)
    assert demo.returncode == 0, out
    assert time.monotonic() - started < 120  # the story is told well before --duration
    lines = out.splitlines()
    assert "what is about to happen:" in out and "hung-etl-01 on etl-bot keeps beating past its 15 s limit" in out
    actions = {line.split()[1] for line in lines[1:] if re.match(r"\d\d:\d\d:\d\d ", line)}
    assert {"orphan_recovered", "auto_terminated", "agent_unreachable"} <= actions, out
    deliveries = re.search(r"webhook deliveries: (\d+)", out)
    assert deliveries and int(deliveries.group(1)) >= len(actions), out
    assert re.search(r"completed 14", out), out
    assert re.search(r"    failed: .*hung-etl-01", out) and re.search(r"    failed: .*orphan-00", out)
    assert gone(broker_pid(lines[0]))
    assert (tmp_path / "watchdog-demo.db").exists()  # kept for `audit`
    [hint] = [line.strip() for line in lines if "exec-watchdog audit" in line]
    elsewhere = subprocess.run(
        ["bash", "-c", hint.replace("exec-watchdog", f"{sys.executable} -m exec_watchdog", 1)],
        cwd="/",
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")},
    )
    assert elsewhere.returncode == 0 and "recovered" in elsewhere.stdout, elsewhere.stderr
