"""The alerting rules in `deploy/` load, fire when they should (promtool's unit tests), and name only
metrics the service exposes."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from exec_watchdog.telemetry.metrics import Metrics
from tests.paths import ROOT
from tests.services.require import START_SCRIPT

RULES = ROOT / "deploy" / "prometheus-alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus-alerts.test.yml"


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail(f"promtool is not installed: run `{START_SCRIPT}` (it installs Debian's prometheus package)")
    return found


def test_the_rules_load_and_their_unit_tests_pass() -> None:
    checked = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run([promtool(), "test", "rules", str(RULE_TESTS)], capture_output=True, text=True)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_rule_has_a_unit_test() -> None:
    rules = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
    tested = {a["alertname"] for t in yaml.safe_load(RULE_TESTS.read_text())["tests"] for a in t["alert_rule_test"]}
    untested = {"WatchdogRecoveriesSpike", "WatchdogConsumerLag", "WatchdogDeadLetters"}  # plain thresholds
    assert rules - untested <= tested


def test_every_metric_a_rule_names_is_exposed() -> None:
    exposed = Metrics().exposition().decode()
    families = set(re.findall(r"^# TYPE (\w+) ", exposed, re.MULTILINE))
    names = {n for n in re.findall(r"\b(watchdog_\w+)", RULES.read_text())}
    suffixes = ("_total", "_count", "_sum", "_bucket")
    missing = {n for n in names if n not in families and not any(n.removesuffix(s) in families for s in suffixes)}
    assert missing == set()
    assert {"watchdog_executions", "watchdog_agent_unreachable", "watchdog_build_info"} <= families
    assert "process_resident_memory_bytes" in exposed
