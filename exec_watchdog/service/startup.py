"""Start-up that explains itself: each way `run` can fail to start is one line naming the setting and
the fix (`StartupError`, exit 2), never a traceback. The broker is waited for, with a log line per
attempt, for `STARTUP_TIMEOUT_S`; a store or a port that cannot be had fails at once."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import time

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from exec_watchdog.adapters.kafka_connection import KafkaConnection
from exec_watchdog.adapters.store import Store
from exec_watchdog.service.health import HealthServer
from exec_watchdog.telemetry.masking import mask_text, mask_url

log = logging.getLogger(__name__)
RETRY_EVERY_S = 2.0


class StartupError(Exception):
    """One line for the operator: the setting, what is wrong, and the fix."""


def open_store(url: str, group_id: str, *, migrate: bool) -> Store:
    try:
        return Store(url, group_id, migrate=migrate)
    except Exception as error:
        raise database_error("WATCHDOG_DATABASE_URL", url, error) from None


def database_error(setting: str, url: str, error: Exception) -> StartupError | Exception:
    """One line for a database URL that cannot be used or reached; any other error as it is."""
    shown = mask_url(url) if "://" in url else repr(url)
    if isinstance(error, ArgumentError | NoSuchModuleError | ImportError | ValueError):
        return StartupError(
            f"setting {setting}: {shown} is not a database URL this build can use "
            f"({type(error).__name__}); give a sqlite:///path/to/file.db or a postgresql:// URL"
        )
    if isinstance(error, SQLAlchemyError):
        first = str(getattr(error, "orig", None) or error).strip().splitlines()[0][:200]
        return StartupError(
            f"setting {setting}: cannot open the database at {shown}: {mask_text(first)}; "
            "check that it runs and the address, user and password are right"
        )
    return error


async def bind_health(health: HealthServer, port: int, host: str) -> int:
    try:
        return await health.start()
    except OSError as error:
        why = "is in use" if error.errno == errno.EADDRINUSE else f"cannot be bound ({error.strerror})"
        raise StartupError(
            f"setting WATCHDOG_HTTP_PORT: port {port} on {host} {why}; give a free port, or 0 to turn the "
            "HTTP endpoints off"
        ) from None


async def admin_when_reachable(
    kafka: KafkaConnection, bootstrap: str, timeout_s: float, stop: asyncio.Event
) -> AIOKafkaAdminClient | None:
    """A started admin client once a broker answers; None if stopped meanwhile; `StartupError` after
    `timeout_s` of attempts, each one logged."""
    deadline = time.monotonic() + timeout_s
    attempt = 0
    while not stop.is_set():
        attempt += 1
        admin = AIOKafkaAdminClient(**kafka.options())
        try:
            await admin.start()
            return admin
        except (KafkaError, OSError) as error:
            await admin.close()
            left = deadline - time.monotonic()
            log.warning(
                "no broker answered at %s (attempt %d: %s); %s",
                bootstrap,
                attempt,
                type(error).__name__,
                f"trying again for {left:.0f} s more" if left > 0 else "giving up",
            )
            if left <= 0:
                raise StartupError(
                    f"setting WATCHDOG_KAFKA_BOOTSTRAP: no broker answered at {bootstrap} within "
                    f"WATCHDOG_STARTUP_TIMEOUT_S={timeout_s:g} s; check the address and that the brokers run "
                    "(and the WATCHDOG_KAFKA_SECURITY_PROTOCOL / SASL settings)"
                ) from None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=min(RETRY_EVERY_S, left))
    return None
