"""docker-compose.yml, the Dockerfile and the alert rules are correct by construction: checked by parsing."""

from __future__ import annotations

import json
import logging
import re
import urllib.request

import yaml

from exec_watchdog.demo.standin_fleet import StandinFleet
from exec_watchdog.settings import ENV_PREFIX, Settings, load_settings
from exec_watchdog.telemetry.logs import JsonFormatter
from exec_watchdog.telemetry.metrics import Metrics
from tests.paths import README, ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
KNOWN = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}


def test_every_watchdog_variable_in_compose_and_dockerfile_is_a_known_setting() -> None:
    used = {
        k for svc in COMPOSE["services"].values() for k in (svc.get("environment") or {}) if k.startswith(ENV_PREFIX)
    }
    used |= set(re.findall(r"\b(WATCHDOG_[A-Z0-9_]+)=", (ROOT / "deploy" / "Dockerfile").read_text()))
    assert used and used <= KNOWN, used - KNOWN
    watchdog_env = COMPOSE["services"]["watchdog"]["environment"]
    assert all(k.startswith(ENV_PREFIX) for k in watchdog_env)
    settings = load_settings(None, **{k.removeprefix(ENV_PREFIX).lower(): v for k, v in watchdog_env.items()})
    assert settings.kafka_bootstrap == "kafka:9092" and settings.database_url.startswith("postgresql://")


def test_compose_has_kraft_kafka_postgres_the_service_and_a_reachable_stand_in_agent() -> None:
    services = COMPOSE["services"]
    kafka = services["kafka"]["environment"]
    assert "controller" in kafka["KAFKA_PROCESS_ROLES"] and "KAFKA_CONTROLLER_QUORUM_VOTERS" in kafka
    assert services["postgres"]["image"].startswith("postgres")
    watchdog = services["watchdog"]
    template = watchdog["environment"]["WATCHDOG_AGENT_URL_TEMPLATE"]
    host = template.split("//")[1].split(":")[0].format(agent_name="research-bot")
    assert host in services and "8000" in services[host]["command"]
    assert set(watchdog["depends_on"]) >= {"kafka", "postgres", "topics"}
    assert "9464:9464" in watchdog["ports"]
    for built in (svc for svc in services.values() if "build" in svc):
        assert (ROOT / built["build"]["context"] / built["build"]["dockerfile"]).exists()


def test_compose_the_readme_and_the_tests_name_one_kafka_version() -> None:
    from tests.services.kafka_cluster import KAFKA_VERSION

    images = {svc["image"] for svc in COMPOSE["services"].values() if svc.get("image", "").startswith("apache/kafka")}
    assert images == {f"apache/kafka:{KAFKA_VERSION}"}
    assert f"Apache Kafka {KAFKA_VERSION}" in README.read_text()


def test_the_dockerfile_is_slim_non_root_with_a_healthcheck_and_copies_every_package() -> None:
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.\d+-slim", text, re.M)
    assert re.search(r"^USER (?!root)\w+", text, re.M) and "HEALTHCHECK" in text and "/healthz" in text
    packages = re.findall(r'"(\w+)\*"', (ROOT / "pyproject.toml").read_text())
    assert packages and all(f"COPY {p} ./{p}" in text for p in packages)


def test_every_metric_the_alert_rules_use_exists() -> None:
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus-alerts.yml").read_text())
    exposed = Metrics().exposition().decode()
    names = {n for g in rules["groups"] for r in g["rules"] for n in re.findall(r"watchdog_[a-z_]+", r["expr"])}
    assert names
    for name in names:
        assert re.search(rf"^# TYPE {name.removesuffix('_count')} ", exposed, re.M), name
    assert all({"alert", "expr", "annotations"} <= set(r) for g in rules["groups"] for r in g["rules"])


def test_a_single_stand_in_agent_answers_at_the_root() -> None:
    fleet = StandinFleet()
    port = fleet.start(single="research-bot")
    fleet.start_execution("research-bot", "x-1")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/executions/running", timeout=5) as reply:
            assert [e["execution_id"] for e in json.load(reply)["executions"]] == ["x-1"]
    finally:
        fleet.stop()


def test_json_logs_carry_the_execution_fields() -> None:
    record = logging.LogRecord(
        "exec_watchdog.service.effects", logging.INFO, __file__, 1, "terminate %s: %s", ("x-1", "ok"), None
    )
    record.execution_id, record.agent_name, record.action = "x-1", "bot", "terminate"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "terminate x-1: ok" and line["level"] == "info"
    assert (line["execution_id"], line["agent_name"], line["action"]) == ("x-1", "bot", "terminate")
