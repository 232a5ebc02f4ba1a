"""`exec-watchdog run`, wired: consumer, ticker, effect runner, health server, and a clean stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid

from sqlalchemy.exc import SQLAlchemyError

from consumers.partitioned import PartitionedConsumer
from exec_watchdog import wiring
from exec_watchdog.adapters.agent_api import AgentApi
from exec_watchdog.adapters.platform import Platform
from exec_watchdog.adapters.trinity_redis import TrinityRedis
from exec_watchdog.service.audit_lane import AuditLane
from exec_watchdog.service.effects import EffectRunner
from exec_watchdog.service.health import HealthServer
from exec_watchdog.service.startup import admin_when_reachable, bind_health, open_store
from exec_watchdog.service.ticker import Ticker
from exec_watchdog.service.webhook import WebhookSink
from exec_watchdog.settings import Settings
from exec_watchdog.telemetry.metrics import Metrics
from exec_watchdog.telemetry.status import InstanceStatus, instance_status
from producers.publisher import Publisher
from producers.topics import ensure_owned_topics, wait_for_input_topic
from statemachine.timestamps import to_micros

log = logging.getLogger(__name__)
STOP_BUDGET_S = 8.0


class Service:
    def __init__(self, settings: Settings, *, agents: AgentApi | None = None, platform: Platform | None = None) -> None:
        if not settings.kafka_bootstrap:
            raise ValueError("WATCHDOG_KAFKA_BOOTSTRAP is not set")
        self.settings = settings
        self.kafka = settings.kafka()
        self.instance_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.metrics = Metrics()
        self.store = open_store(settings.database_url, settings.group_id, migrate=settings.auto_migrate)
        self.agents = agents or wiring.agent_api(settings)
        self.platform = platform or wiring.platform(settings)
        self.publisher = Publisher(
            self.kafka,
            recoveries=settings.recoveries_topic,
            dlq=settings.dlq_topic,
            control=settings.control_topic,
            audit=settings.audit_topic,
        )
        self.audit_lane = AuditLane(
            self.store.audit,
            self.publisher,
            topic=settings.lifecycle_topic,
            owned=self.owned,
            busy=self._busy,
            restoring=lambda: self.consumer is not None and bool(self.consumer.restorer.pending),
        )
        self.consumer: PartitionedConsumer | None = None
        self.runner: EffectRunner | None = None
        self.http_port: int | None = None
        self.started = asyncio.Event()

    def owned(self) -> list[int]:
        return sorted(self.consumer.owned) if self.consumer else []

    def _next_deadline(self, partition: int) -> int | None:
        state = None if self.consumer is None else self.consumer.owned.get(partition)
        return None if state is None else state.engine.next_deadline()

    def _busy(self) -> bool:
        """Work that goes before audit records: catching up on input, effects under way."""
        behind = self.consumer is not None and not self.consumer.caught_up
        return behind or (self.runner is not None and self.runner.busy)

    def ready(self) -> bool:
        return self.consumer is not None and self.consumer.caught_up

    def _decided(self) -> None:
        """A batch of decisions is in the store: its effects and its audit records are due."""
        if self.runner is not None:
            self.runner.wake.set()
        self.audit_lane.wake.set()

    async def _adopt(self, partitions: set[int]) -> None:
        await asyncio.to_thread(self.store.take_over, partitions, self.instance_id)

    async def _release(self, partitions: set[int]) -> None:
        if self.runner is not None:
            await self.runner.drain(partitions, timeout_s=STOP_BUDGET_S / 4)

    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings
        health = None
        if s.http_port:  # /healthz from the first moment, while the broker and topics are awaited
            health = HealthServer(s.http_port, self.metrics, self.ready, s.http_host, self._status_json)
            self.http_port = await bind_health(health, s.http_port, s.http_host)
        try:
            prepared = await self._prepare_topics(stop)
        except BaseException:
            prepared = False
            raise
        finally:
            if health is not None and not prepared:
                await health.stop()
        if not prepared:
            return
        policy = s.policy()
        await asyncio.to_thread(self.store.audit.save_policy, policy.digest, policy.model_dump_json())
        kafka = PartitionedConsumer.create(self.kafka, s.group_id, s.kafka_session_timeout_s)
        redis_url, hook = s.platform_redis_url, s.notify_webhook_url
        self.redis = None if redis_url is None else TrinityRedis(redis_url.get_secret_value())
        secret = None if s.notify_webhook_secret is None else s.notify_webhook_secret.get_secret_value()
        self.webhooks = (
            None
            if hook is None
            else WebhookSink(
                hook,
                self.store,
                self.metrics,
                owner=self.instance_id,
                owned=self.owned,
                secret=secret,
                timeout_s=s.webhook_timeout_s,
                max_attempts=s.webhook_max_attempts,
            )
        )
        self.runner = EffectRunner(
            self.store,
            self.publisher,
            self.agents,
            self.platform,
            self.metrics,
            owner=self.instance_id,
            owned=self.owned,
            redis=self.redis,
            terminate_grace_s=s.terminate_grace_s,
        )
        self.consumer = PartitionedConsumer(
            kafka,
            store=self.store,
            publisher=self.publisher,
            metrics=self.metrics,
            policy=s.policy(),
            lifecycle_topic=s.lifecycle_topic,
            control_topic=s.control_topic,
            snapshot_interval_s=s.snapshot_interval_s,
            checkpoint_interval_s=s.checkpoint_interval_s,
            on_decisions=self._decided,
            on_adopt=self._adopt,
            on_release=self._release,
        )
        self.consumer.with_redis = self.redis is not None
        self.consumer.with_webhook = self.webhooks is not None
        ticker = Ticker(
            kafka,
            self.publisher,
            self.metrics,
            lifecycle_topic=s.lifecycle_topic,
            interval_s=s.tick_interval_s,
            owned=self.owned,
            next_deadline=self._next_deadline,
        )
        loops: list[asyncio.Task[None]] = []
        try:
            await self.publisher.start()
            self.consumer.subscribe()
            await kafka.start()
            loops = [
                asyncio.create_task(self._write_status(stop), name="status"),
                asyncio.create_task(self.consumer.run(stop), name="consume"),
                asyncio.create_task(ticker.run(stop), name="tick"),
                asyncio.create_task(self.runner.run(stop), name="effects"),
                asyncio.create_task(self.audit_lane.run(stop), name="audit"),
            ]
            if self.webhooks is not None:
                loops.append(asyncio.create_task(self.webhooks.run(stop), name="webhooks"))
            self.started.set()
            log.info("exec-watchdog %s running (group %s)", self.instance_id, s.group_id)
            waiting = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait([waiting, *loops], return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            for task in done:
                if task is not waiting and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            stop.set()
            await self._shutdown(loops, health)

    async def _prepare_topics(self, stop: asyncio.Event) -> bool:
        s = self.settings
        assert s.kafka_bootstrap is not None
        admin = await admin_when_reachable(self.kafka, s.kafka_bootstrap, s.startup_timeout_s, stop)
        if admin is None:
            return False
        try:
            partitions = await wait_for_input_topic(admin, s.lifecycle_topic, stop)
            if partitions is None:
                return False
            await ensure_owned_topics(
                admin,
                control=s.control_topic,
                partitions=partitions,
                others=[s.recoveries_topic, s.dlq_topic, s.audit_topic],
                replication=s.topic_replication_factor,
            )
            return True
        finally:
            await admin.close()

    async def _shutdown(self, loops: list[asyncio.Task[None]], health: HealthServer | None) -> None:
        """Finish in-flight work, snapshot and commit, leave the group: within STOP_BUDGET_S."""
        if loops:
            _, pending = await asyncio.wait(loops, timeout=STOP_BUDGET_S / 2)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        try:
            if self.consumer is not None and loops:
                await asyncio.wait_for(self.consumer.release(), timeout=STOP_BUDGET_S / 4)
        except TimeoutError:
            log.warning(
                "stopped before the final snapshot was written (%.0f s): the next owner replays from the last one",
                STOP_BUDGET_S / 4,
            )
        finally:
            if self.consumer is not None:
                await self.consumer.consumer.stop()
            await self.publisher.stop()
            await self.agents.aclose()
            await self.platform.aclose()
            if self.redis is not None:
                await self.redis.aclose()
            if health is not None:
                await health.stop()
            with contextlib.suppress(SQLAlchemyError):
                await asyncio.to_thread(self.store.status.drop, self.instance_id)  # gone, not stale
            self.store.close()
            log.info("exec-watchdog %s stopped", self.instance_id)

    def status(self) -> InstanceStatus:
        """What this instance thinks right now (`GET /status`; written to the store for `exec-watchdog status`)."""
        owned = {} if self.consumer is None else {p: state.engine for p, state in self.consumer.owned.items()}
        lags = {} if self.consumer is None else self.consumer.lags
        return instance_status(self.instance_id, self.settings.group_id, owned, self.metrics.board, lags)

    def _status_json(self) -> bytes:
        return self.status().model_dump_json().encode()

    async def _write_status(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            document = self.status()
            at = to_micros(document.written_at)
            try:
                await asyncio.to_thread(self.store.status.save, self.instance_id, at, document.model_dump_json())
            except SQLAlchemyError as error:
                log.warning("status not written: %s", type(error).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.settings.snapshot_interval_s)
