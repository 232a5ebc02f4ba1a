"""Security: Kafka TLS and SASL settings, secrets from files and never shown, limits before parsing."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from exec_watchdog.adapters.kafka_connection import KafkaConnection
from exec_watchdog.settings import ConfigError, load_settings
from schemas import InvalidInput, parse_input
from tests.paths import ROOT


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("WATCHDOG_"):
            monkeypatch.delenv(name)


def test_sasl_scram_over_tls_reaches_every_kafka_client_option() -> None:
    settings = load_settings(
        None,
        kafka_bootstrap="kafka:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="watchdog",
        kafka_sasl_password="s3cr3t",
    )
    options = settings.kafka().options()
    assert options["security_protocol"] == "SASL_SSL" and options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "watchdog" and options["sasl_plain_password"] == "s3cr3t"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert "s3cr3t" not in repr(settings.kafka())
    assert KafkaConnection("k:9092").options() == {"bootstrap_servers": "k:9092", "security_protocol": "PLAINTEXT"}


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"kafka_security_protocol": "TLS"}, "WATCHDOG_KAFKA_SECURITY_PROTOCOL"),
        ({"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "GSSAPI"}, "WATCHDOG_KAFKA_SASL_MECHANISM"),
        (
            {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_mechanism": "PLAIN"},
            "WATCHDOG_KAFKA_SASL_USERNAME",
        ),
    ],
)
def test_incomplete_kafka_security_is_refused_naming_the_setting(values: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_settings(None, kafka_bootstrap="k:9092", **values)


def test_secrets_can_come_from_files_and_config_masks_them(tmp_path: Path) -> None:
    (tmp_path / "watchdog_agent_auth_secret").write_text("from-a-file")
    (tmp_path / "watchdog_kafka_sasl_password").write_text("kafka-pass")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")} | {
        "WATCHDOG_SECRETS_DIR": str(tmp_path)
    }
    run = subprocess.run(
        [sys.executable, "-m", "exec_watchdog", "config"], env=env, capture_output=True, text=True, cwd=ROOT
    )
    assert run.returncode == 0, run.stderr
    assert "from-a-file" not in run.stdout and "kafka-pass" not in run.stdout
    os.environ["WATCHDOG_SECRETS_DIR"] = str(tmp_path)
    try:
        settings = load_settings()
    finally:
        del os.environ["WATCHDOG_SECRETS_DIR"]
    assert settings.agent_auth_secret is not None and settings.agent_auth_secret.get_secret_value() == "from-a-file"


def test_an_oversized_record_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(InvalidInput, match=r"record is 20001 bytes; at most 16384 are allowed"):
        parse_input(b" " * 20001)
