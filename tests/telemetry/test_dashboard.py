"""The Grafana dashboard and the Prometheus that docker-compose provisions: every query parses
(promtool), names only metrics the service exposes, and every file compose mounts is where the
configuration looks for it."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

from exec_watchdog.telemetry.metrics import Metrics
from tests.paths import ROOT
from tests.telemetry.test_alert_rules import promtool

DASHBOARD = json.loads((ROOT / "deploy" / "grafana" / "exec-watchdog.json").read_text())
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
QUERIES = [t["expr"] for p in DASHBOARD["panels"] for t in p["targets"]]


def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    recorded = [{"record": f"q{n}", "expr": q} for n, q in enumerate(QUERIES)]
    rules = {"groups": [{"name": "dashboard", "rules": recorded}]}
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump(rules))
    checked = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_metric_a_query_names_is_exposed_and_the_issue_list_is_covered() -> None:
    exposed = Metrics().exposition().decode()
    families = set(re.findall(r"^# TYPE (\w+) ", exposed, re.MULTILINE)) | {"up"}
    suffixes = ("_bucket", "_count", "_sum", "_total")
    named = {n for q in QUERIES for n in re.findall(r"\b((?:watchdog|process)_\w+|up)\{", q)}
    assert {n for n in named if n not in families and not any(n.removesuffix(s) in families for s in suffixes)} == set()
    for wanted in (
        "watchdog_recoveries_total",
        "watchdog_executions",
        "watchdog_detection_seconds_bucket",
        "watchdog_agent_call_seconds_bucket",
        "watchdog_agent_failures_total",
        "watchdog_consumer_lag",
        "watchdog_incident_active",
    ):
        assert wanted in named, wanted
    assert all(re.search(r'job="exec-watchdog"', q) for q in QUERIES)


def test_panels_do_not_overlap_and_have_unique_ids() -> None:
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    cells = set()
    for p in DASHBOARD["panels"]:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, p["title"]
                cells.add((x, y))


def test_compose_provisions_prometheus_and_grafana_with_these_files(tmp_path: Path) -> None:
    services = COMPOSE["services"]
    mounts = {
        m.split(":")[1]: ROOT / m.split(":")[0] for svc in ("prometheus", "grafana") for m in services[svc]["volumes"]
    }
    assert all(source.exists() for source in mounts.values()), mounts
    prometheus = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    [rule_file] = prometheus["rule_files"]
    assert mounts[rule_file] == ROOT / "deploy" / "prometheus-alerts.yml"
    [job] = prometheus["scrape_configs"]
    assert job["job_name"] == "exec-watchdog"
    port = services["watchdog"]["environment"]["WATCHDOG_HTTP_PORT"]
    assert job["static_configs"][0]["targets"] == [f"watchdog:{port}"]
    provider = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/exec-watchdog.yml").read_text())
    folder = provider["providers"][0]["options"]["path"]
    assert mounts[f"{folder}/exec-watchdog.json"] == ROOT / "deploy" / "grafana" / "exec-watchdog.json"
    source = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    assert source["datasources"][0]["uid"] == DASHBOARD["panels"][0]["datasource"]["uid"]
    local = dict(prometheus, rule_files=[str(ROOT / "deploy" / "prometheus-alerts.yml")])
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(local))
    command = [promtool(), "check", "config", str(tmp_path / "prometheus.yml")]
    checked = subprocess.run(command, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
