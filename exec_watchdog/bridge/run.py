"""`exec-watchdog bridge`: lifecycle events for platforms that emit none.

Every `BRIDGE_INTERVAL_S`: read the platform's running executions, ask each of their agents what it
runs (one call per agent), take what their log streams showed of progress (`exec_watchdog.bridge.activity`),
and publish what changed (see `exec_watchdog.bridge.events`). Rows or agents that
cannot be read this round are simply not reported: silence, never a false "finished".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from exec_watchdog import wiring
from exec_watchdog.adapters.agent_api import AgentApi, Known
from exec_watchdog.adapters.trinity_db import PlatformExecution, TrinityDatabase
from exec_watchdog.bridge.activity import ActivityWatch, StreamOpener
from exec_watchdog.bridge.events import Observation, bridge_events, ends_as
from exec_watchdog.service.startup import StartupError, admin_when_reachable, database_error
from exec_watchdog.settings import Settings
from exec_watchdog.telemetry.logs import configure_logging
from exec_watchdog.telemetry.masking import mask_text
from schemas.inputs import LifecycleEvent

log = logging.getLogger(__name__)
Send = Callable[[LifecycleEvent], Awaitable[None]]


class Bridge:
    def __init__(
        self,
        database: TrinityDatabase,
        agents: AgentApi,
        send: Send,
        interval_s: float,
        watch_failed_s: float = 3600,
        activity: ActivityWatch | None = None,
    ) -> None:
        self.database = database
        self.activity = activity
        self.agents = agents
        self.send = send
        self.interval_s = interval_s
        self.watch_failed_s = watch_failed_s
        self.running: dict[str, str] = {}
        """Execution id -> agent, as of the last round."""
        self.failed: dict[str, datetime] = {}
        """Rows seen leaving `running` as failed, and when: read again until `watch_failed_s` has passed."""

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.poll_once()
            except (SQLAlchemyError, KafkaError) as error:
                log.warning("bridge round skipped: %s", type(error).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval_s)

    async def poll_once(self) -> list[LifecycleEvent]:
        now = datetime.now(UTC)
        rows = await asyncio.to_thread(self.database.executions)
        current = {r.id for r in rows}
        gone = [x for x in self.running if x not in current]
        ended = await asyncio.to_thread(self.database.executions, running=False, ids=gone) if gone else []
        answers = await asyncio.gather(*(self.agents.known_executions(a) for a in sorted({r.agent_name for r in rows})))
        agents = {
            a: k for a, k in zip(sorted({r.agent_name for r in rows}), answers, strict=True) if isinstance(k, Known)
        }
        valid_rows = [r for r in rows if _valid(r.id, r.agent_name)]
        ended = [r for r in ended if r.status != "running"]
        rewritten = await self._rewritten(now)
        progress = {}
        if self.activity is not None:
            progress = self.activity.take_progress()
            oldest_first = sorted(valid_rows, key=lambda r: (r.started_at or now, r.id))
            self.activity.follow({r.id: r.agent_name for r in oldest_first})
        observation = Observation(now, self.interval_s, valid_rows, ended, agents, rewritten, progress)
        events = bridge_events(set(self.running), observation)
        for event in events:
            await self.send(event)
        self.running = {r.id: r.agent_name for r in valid_rows}
        self.failed.update({r.id: now for r in ended if ends_as(r.status) == "execution.failed"})
        return events

    async def _rewritten(self, now: datetime) -> list[PlatformExecution]:
        """Rows that ended as failed and now say otherwise; each is reported once, then no longer read."""
        self.failed = {x: at for x, at in self.failed.items() if (now - at).total_seconds() < self.watch_failed_s}
        if not self.failed:
            return []
        rows = await asyncio.to_thread(self.database.executions, running=False, ids=list(self.failed))
        rewritten = [r for r in rows if ends_as(r.status) != "execution.failed"]
        for row in rewritten:
            del self.failed[row.id]
        return rewritten


def _valid(execution_id: str, agent_name: str) -> bool:
    try:
        LifecycleEvent.model_validate(
            {
                "schema_version": 1,
                "event_id": "check",
                "type": "execution.heartbeat",
                "execution_id": execution_id,
                "agent_name": agent_name,
                "occurred_at": datetime.now(UTC),
            }
        )
    except ValidationError:
        log.warning("platform row skipped: its id or agent name does not fit the contract")
        return False
    return True


def run_bridge(settings: Settings) -> int:
    missing = [name for name in ("kafka_bootstrap", "platform_database_url") if getattr(settings, name) is None]
    if missing:
        names = " and ".join(f"WATCHDOG_{n.upper()}" for n in missing)
        print(
            f"exec-watchdog bridge: setting {names} is not set; the bridge reads the platform database "
            "and writes to Kafka",
            file=sys.stderr,
        )
        return 2
    configure_logging()
    try:
        asyncio.run(_serve(settings))
    except StartupError as error:
        print(f"exec-watchdog bridge: {mask_text(str(error))}", file=sys.stderr)
        return 2
    return 0


def _platform(url: str) -> TrinityDatabase:
    """The platform's database, reached once now: a wrong URL is one line at start, not a log per round."""
    try:
        database = TrinityDatabase(url)
        with database.engine.connect():
            pass
    except Exception as error:
        raise database_error("WATCHDOG_PLATFORM_DATABASE_URL", url, error) from None
    return database


async def _serve(settings: Settings) -> None:
    assert settings.kafka_bootstrap is not None and settings.platform_database_url is not None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    database = _platform(settings.platform_database_url.get_secret_value())
    admin = await admin_when_reachable(settings.kafka(), settings.kafka_bootstrap, settings.startup_timeout_s, stop)
    if admin is None:
        database.close()
        return
    await admin.close()
    producer = AIOKafkaProducer(**settings.kafka().options(), acks="all", enable_idempotence=False)
    await producer.start()
    agents = wiring.agent_api(settings)

    async def send(event: LifecycleEvent) -> None:
        payload = event.model_dump_json(exclude_none=True).encode()
        await producer.send_and_wait(settings.lifecycle_topic, payload, key=event.execution_id.encode())

    streams = StreamOpener(agents, max(settings.bridge_max_streams, 1), settings.agent_connect_timeout_s)
    activity = ActivityWatch(streams, settings.bridge_max_streams)
    try:
        bridge = Bridge(database, agents, send, settings.bridge_interval_s, settings.terminal_retention_s, activity)
        await bridge.run(stop)
    finally:
        await activity.close()
        await streams.aclose()
        await producer.stop()
        await agents.aclose()
        database.close()
