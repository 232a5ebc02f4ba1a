"""Credentials never reach what people read (`config`, logs, errors), while host, port and database stay visible."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from pydantic import SecretStr

from exec_watchdog.settings import Settings, load_settings
from exec_watchdog.telemetry.logs import JsonFormatter, TextFormatter
from exec_watchdog.telemetry.masking import mask_text, mask_url

SECRET = "Sup3rS3cretValue"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            f"postgresql://trinity:{SECRET}@db.internal:5432/trinity",
            "postgresql://trinity:***@db.internal:5432/trinity",
        ),
        (f"postgresql+psycopg://u:{SECRET}@[::1]:5432/wd", "postgresql+psycopg://u:***@[::1]:5432/wd"),
        (f"redis://:{SECRET}@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        (f"https://{SECRET}@github.com/org", "https://***@github.com/org"),  # a user name alone may be a token
        (
            f"https://hooks.example.com/in?token={SECRET}&channel=ops",
            "https://hooks.example.com/in?token=***&channel=ops",
        ),
        (
            "https://hooks.slack.com/services/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",
            "https://hooks.slack.com/services/T0AB12CD3/B0AB12CD3/***",
        ),
        ("sqlite:///./watchdog.db", "sqlite:///./watchdog.db"),
        ("http://agent-{agent_name}:8000", "http://agent-{agent_name}:8000"),
        ("http://[::1", "***"),  # not readable: nothing of it shown
    ],
)
def test_a_urls_credentials_are_masked_and_the_rest_kept(url: str, shown: str) -> None:
    assert mask_url(url) == shown


URL_SETTINGS = {
    name for name, field in Settings.model_fields.items() if name.endswith(("_url", "_urls", "_url_template"))
}


def test_every_url_valued_setting_is_masked_in_config() -> None:
    assert {
        "database_url",
        "platform_database_url",
        "platform_redis_url",
        "notify_webhook_url",
        "agent_url_template",
        "agent_urls",
    } == URL_SETTINGS
    with_secret = f"postgresql://watchdog:{SECRET}@db.internal:5432/watchdog?password={SECRET}"
    settings = load_settings(
        None,
        database_url=with_secret,
        platform_database_url=with_secret,
        platform_redis_url=f"redis://:{SECRET}@cache:6379/0",
        notify_webhook_url=f"https://hooks.example.com/in?token={SECRET}",
        agent_url_template=f"http://ops:{SECRET}@agent-{{agent_name}}:8000",
        agent_urls={"research-bot": f"http://ops:{SECRET}@10.0.0.7:8000"},
    )
    shown = settings.masked()
    assert SECRET not in json.dumps(shown)
    assert shown["database_url"] == "postgresql://watchdog:***@db.internal:5432/watchdog?password=***"
    assert shown["platform_database_url"] == shown["database_url"]  # a secret URL shows its host now
    assert shown["platform_redis_url"] == "redis://:***@cache:6379/0"
    assert shown["agent_urls"] == {"research-bot": "http://ops:***@10.0.0.7:8000"}
    assert load_settings(None, agent_auth_secret=SecretStr(SECRET)).masked()["agent_auth_secret"] == "**********"


def record(message: str, exc: BaseException | None = None) -> logging.LogRecord:
    info = None if exc is None else (type(exc), exc, None)
    return logging.LogRecord("x", logging.WARNING, __file__, 1, message, (), info)


def test_logs_mask_urls_in_messages_and_errors_whoever_wrote_them() -> None:
    error = ConnectionError(f"could not reach postgresql://u:{SECRET}@db:5432/x")
    line = JsonFormatter().format(record(f"retrying redis://:{SECRET}@cache:6379", error))
    assert SECRET not in line
    body = json.loads(line)
    assert body["message"] == "retrying redis://:***@cache:6379"
    assert "postgresql://u:***@db:5432/x" in body["error"]
    text = TextFormatter("%(message)s").format(record(f"at https://h.io/x?api_key={SECRET}"))
    assert text == "at https://h.io/x?api_key=***"


def test_a_text_without_urls_is_left_alone() -> None:
    assert mask_text("agent evil-hang did not answer: no whole reply within 4 s") == (
        "agent evil-hang did not answer: no whole reply within 4 s"
    )


def test_a_configuration_error_never_echoes_a_password() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")}
    env["WATCHDOG_AGENT_URLS"] = json.dumps({"Bad Name": f"http://u:{SECRET}@10.0.0.7:8000"})
    run = subprocess.run(
        [sys.executable, "-m", "exec_watchdog", "config"], env=env, capture_output=True, text=True, check=False
    )
    assert run.returncode == 2
    assert "WATCHDOG_AGENT_URLS" in run.stderr and "http://u:***@10.0.0.7:8000" in run.stderr
    assert SECRET not in run.stderr + run.stdout
