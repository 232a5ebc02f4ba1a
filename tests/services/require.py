"""The services the tests use, found or failed with a message naming the script that starts them.

`tests/services/start.sh` installs and starts PostgreSQL and Redis and fetches the Apache Kafka
broker; a test that needs one of them and cannot reach it fails (never skips) and says so.
"""

from __future__ import annotations

import socket

import pytest

START_SCRIPT = "tests/services/start.sh"
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/7"


def reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def require(name: str, port: int) -> None:
    if not reachable(port):
        pytest.fail(f"{name} is not running on 127.0.0.1:{port}: run `{START_SCRIPT}` (it installs and starts it)")


def postgres_server() -> str:
    require("PostgreSQL", 5432)
    return POSTGRES_URL


def redis_url() -> str:
    require("Redis", 6379)
    return REDIS_URL
