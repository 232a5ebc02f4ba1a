"""`run` that cannot start says so in one line naming the setting and the fix, and exits 2."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def run(tmp_path: Path, command: str = "run", **settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")}
    env |= {"WATCHDOG_HTTP_PORT": "0", "WATCHDOG_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}"}
    env |= {f"WATCHDOG_{k.upper()}": v for k, v in settings.items()}
    return subprocess.run(
        [sys.executable, "-m", "exec_watchdog", command], env=env, capture_output=True, text=True, timeout=60
    )


def last_line(run: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in run.stderr
    return run.stderr.strip().splitlines()[-1]


def test_an_unreachable_broker_is_retried_then_named(tmp_path: Path) -> None:
    started = time.monotonic()
    done = run(tmp_path, kafka_bootstrap="127.0.0.1:1", startup_timeout_s="2.5")
    assert done.returncode == 2
    assert time.monotonic() - started >= 2.5
    assert last_line(done).startswith("exec-watchdog run: setting WATCHDOG_KAFKA_BOOTSTRAP: no broker answered")
    assert "WATCHDOG_STARTUP_TIMEOUT_S=2.5" in last_line(done)
    assert done.stderr.count("no broker answered at 127.0.0.1:1 (attempt") >= 2  # a log line per attempt


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("notaurl", "'notaurl' is not a database URL"),
        ("mysql://u:pw@h/db", "mysql://u:***@h/db is not a database URL"),
        ("postgresql://u:Secret123@127.0.0.1:1/db", "cannot open the database at postgresql://u:***@127.0.0.1:1/db"),
    ],
)
def test_a_store_that_cannot_be_opened_is_named_with_its_password_masked(tmp_path: Path, url: str, said: str) -> None:
    done = run(tmp_path, kafka_bootstrap="127.0.0.1:1", database_url=url)
    assert done.returncode == 2
    line = last_line(done)
    assert line.startswith("exec-watchdog run: setting WATCHDOG_DATABASE_URL: ") and said in line
    assert "Secret123" not in done.stderr and ":pw@" not in done.stderr


def test_the_bridge_names_an_unusable_platform_database_and_an_unreachable_broker(tmp_path: Path) -> None:
    dead = run(
        tmp_path,
        "bridge",
        kafka_bootstrap="127.0.0.1:1",
        platform_database_url="postgresql://trinity:Secret123@127.0.0.1:1/trinity",
    )
    assert dead.returncode == 2
    assert last_line(dead).startswith(
        "exec-watchdog bridge: setting WATCHDOG_PLATFORM_DATABASE_URL: cannot open the database at "
        "postgresql://trinity:***@127.0.0.1:1/trinity"
    )
    assert "Secret123" not in dead.stderr
    platform = f"sqlite:///{tmp_path / 'trinity.db'}"
    away = run(tmp_path, "bridge", kafka_bootstrap="127.0.0.1:1", platform_database_url=platform, startup_timeout_s="1")
    assert away.returncode == 2
    assert last_line(away).startswith("exec-watchdog bridge: setting WATCHDOG_KAFKA_BOOTSTRAP: no broker answered")


def test_a_port_in_use_is_named(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run(tmp_path, kafka_bootstrap="127.0.0.1:1", http_port=str(port))
    assert done.returncode == 2
    assert last_line(done) == (
        f"exec-watchdog run: setting WATCHDOG_HTTP_PORT: port {port} on 127.0.0.1 is in use; "
        "give a free port, or 0 to turn the HTTP endpoints off"
    )


def test_healthz_answers_while_the_broker_is_awaited(tmp_path: Path) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")} | {
        "WATCHDOG_HTTP_PORT": str(port),
        "WATCHDOG_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}",
        "WATCHDOG_KAFKA_BOOTSTRAP": "127.0.0.1:1",
        "WATCHDOG_STARTUP_TIMEOUT_S": "60",
    }
    process = subprocess.Popen([sys.executable, "-m", "exec_watchdog", "run"], env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply:
                    assert reply.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "/healthz never answered"
                time.sleep(0.2)
        with pytest.raises(urllib.error.HTTPError) as not_ready:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2)
        assert not_ready.value.code == 503
    finally:
        process.terminate()
        assert process.wait(timeout=15) == 0
