"""The command line: settings precedence, clear errors with exit code 2, simulate on stdin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from exec_watchdog.settings import ConfigError, load_settings
from tests.events import lifecycle_json
from tests.paths import README, ROOT


def cli(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")}
    return subprocess.run(
        [sys.executable, "-m", "exec_watchdog", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=base | (env or {}),
        cwd=ROOT,
    )


def test_file_then_environment_then_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("WATCHDOG_"):
            monkeypatch.delenv(name)
    config = tmp_path / "watchdog.toml"
    config.write_text('heartbeat_timeout_s = 30\nmin_age_s = 5\ngroup_id = "from-file"\n[agent_timeouts]\nbot = 60\n')
    monkeypatch.setenv("WATCHDOG_MIN_AGE_S", "7.5")
    monkeypatch.setenv("WATCHDOG_GROUP_ID", "from-env")
    settings = load_settings(config, group_id="from-cli")
    assert settings.heartbeat_timeout_s == 30 and settings.min_age_s == 7.5
    assert settings.group_id == "from-cli" and settings.agent_timeouts == {"bot": 60}
    assert settings.policy().heartbeat_timeout_s == 30


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"WATCHDOG_HEARTBEAT_TIMEOUT_S": "soon"}, "WATCHDOG_HEARTBEAT_TIMEOUT_S"),
        ({"WATCHDOG_HEARTBEAT_TIMEOUT_S": "0"}, "WATCHDOG_HEARTBEAT_TIMEOUT_S"),
        ({"WATCHDOG_AGENT_TIMEOUTS": "{not json"}, "WATCHDOG_AGENT_TIMEOUTS"),
        ({"WATCHDOG_AUTO_TERMINATE": "maybe"}, "WATCHDOG_AUTO_TERMINATE"),
        ({"WATCHDOG_AGENT_URL_TEMPLATE": "http://agents/fixed"}, "WATCHDOG_AGENT_URL_TEMPLATE"),
        ({"WATCHDOG_MIN_AGE_S": "inf"}, "WATCHDOG_MIN_AGE_S"),
        ({"WATCHDOG_MIN_AGE_S": "nan"}, "WATCHDOG_MIN_AGE_S"),
        ({"WATCHDOG_TICK_INTERVAL_S": "inf"}, "WATCHDOG_TICK_INTERVAL_S"),
        ({"WATCHDOG_HEARTBEAT_TIMEOUT_S": "1e400"}, "WATCHDOG_HEARTBEAT_TIMEOUT_S"),
        ({"WATCHDOG_AGENT_URLS": '{"Bad_Name": "http://10.0.0.7:8000"}'}, "WATCHDOG_AGENT_URLS"),
        ({"WATCHDOG_AGENT_URLS": '{"bot": "file:///etc/passwd"}'}, "WATCHDOG_AGENT_URLS"),
        ({"WATCHDOG_TERMINATE_GRACE_S": "0"}, "WATCHDOG_TERMINATE_GRACE_S"),
    ],
)
def test_a_bad_setting_exits_2_naming_the_setting_and_value(env: dict[str, str], named: str) -> None:
    run = cli("config", env=env)
    assert run.returncode == 2
    assert named in run.stderr and "not valid" in run.stderr


def test_an_unknown_key_in_the_config_file_is_named_with_the_file_and_a_suggestion(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("hearbeat_timeout_s = 30\nwhatever = 1\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    assert str(raised.value).splitlines() == [
        f"--config {config}: key 'hearbeat_timeout_s' is not a setting; did you mean 'heartbeat_timeout_s'?",
        f"--config {config}: key 'whatever' is not a setting; the README's Configuration table lists them",
    ]


def test_an_unknown_watchdog_variable_is_a_typo_until_proven_otherwise() -> None:
    run = cli("config", env={"WATCHDOG_HEARBEAT_TIMEOUT_S": "30", "WATCHDOG_SECRETS_DIR": "/"})
    assert run.returncode == 2
    assert run.stderr.splitlines()[1:] == [
        "setting WATCHDOG_HEARBEAT_TIMEOUT_S: no such setting; did you mean WATCHDOG_HEARTBEAT_TIMEOUT_S?"
    ]


def test_config_is_read_from_watchdog_config_or_after_the_command(tmp_path: Path) -> None:
    config = tmp_path / "w.toml"
    config.write_text("heartbeat_timeout_s = 42\n")
    assert json.loads(cli("config", env={"WATCHDOG_CONFIG": str(config)}).stdout)["heartbeat_timeout_s"] == 42
    assert json.loads(cli("config", "--config", str(config)).stdout)["heartbeat_timeout_s"] == 42
    assert json.loads(cli("--config", str(config), "config").stdout)["heartbeat_timeout_s"] == 42


def test_version_and_every_commands_help_says_what_it_does() -> None:
    import argparse

    from exec_watchdog.cli import build_parser

    version = cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("exec-watchdog ")
    [commands] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(commands.choices) == 11
    for name, parser in commands.choices.items():
        description = " ".join(parser.format_help().split("\n\n")[1].split())
        assert len(description) > 120 and "Settings come from WATCHDOG_* variables" in description, name


def test_config_masks_secrets() -> None:
    run = cli(
        "config",
        env={
            "WATCHDOG_AGENT_AUTH_SECRET": "hunter2",
            "WATCHDOG_PLATFORM_DATABASE_URL": "postgresql://u:pw@h/db",
        },
    )
    assert run.returncode == 0
    assert "hunter2" not in run.stdout and "pw@" not in run.stdout
    assert json.loads(run.stdout)["agent_auth_secret"] == "**********"


def test_simulate_reads_stdin_and_reports_bad_lines_by_number() -> None:
    lines = [
        lifecycle_json("started", "x-1", 0),
        '{"schema_version": 1, "type": "nope"}',
        json.dumps({"schema_version": 1, "type": "watchdog.tick", "now": "2030-01-01T00:00:00Z"}),
    ]
    run = cli("simulate", stdin="\n".join(lines) + "\n")
    assert run.returncode == 0
    assert run.stderr.startswith("line 2: type:")
    assert [json.loads(line)["type"] for line in run.stdout.splitlines()] == ["transition", "command"]


def test_schemas_writes_files(tmp_path: Path) -> None:
    run = cli("schemas", str(tmp_path / "out"))
    assert run.returncode == 0 and (tmp_path / "out" / "recovery-event.schema.json").exists()


def test_unknown_command_is_a_usage_error() -> None:
    assert cli("explode").returncode == 2


def test_the_readme_configuration_table_is_generated_from_the_settings_model() -> None:
    from exec_watchdog.settings_doc import readme_block

    assert readme_block() in README.read_text(), "regenerate with: python -m exec_watchdog.settings_doc"
