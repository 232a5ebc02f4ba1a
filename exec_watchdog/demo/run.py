"""`exec-watchdog demo`: a local broker, SQLite, stand-in agents and a story, watched by the real `run`.

It says what is about to happen, shows which executions are in which state as it goes, and ends
once the story is told (or at `--duration`). Everything it starts (the broker process, the agents'
server, the service) it also stops, in order, at the end, on Ctrl-C, on SIGTERM and when its
terminal closes (SIGHUP). The store stays behind (`./watchdog-demo.db`) so that `exec-watchdog
audit` can be tried on what just happened; the hint it prints works from any directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from rich.console import Console
from rich.live import Live

from exec_watchdog.demo.local_broker import TansuBroker
from exec_watchdog.demo.standin_fleet import StandinFleet
from exec_watchdog.demo.story import Story, cast, plan, told
from exec_watchdog.demo.view import Picture, plain_line, render
from exec_watchdog.demo.webhook_receiver import Receiver
from exec_watchdog.service.service import Service
from exec_watchdog.settings import Settings, load_settings
from schemas.fields import State

DEMO_DB = Path("watchdog-demo.db")
LINGER_S = 3.0
"""Once the story is told, the view stays this long before the summary."""


def demo_settings(bootstrap: str, fleet: StandinFleet, webhook_url: str) -> Settings:
    return load_settings(
        None,
        kafka_bootstrap=bootstrap,
        notify_webhook_url=webhook_url,
        database_url=f"sqlite:///./{DEMO_DB}",
        agent_url_template=fleet.url_template,
        heartbeat_timeout_s=6,
        min_age_s=3,
        idle_after_s=120,
        auto_terminate=True,
        tick_interval_s=0.5,
        probe_retry_s=2,
        probe_retry_max_s=8,
        command_retry_s=2,
        snapshot_interval_s=2,
        checkpoint_interval_s=30,
        agent_timeout_s=2,
        agent_read_retries=1,
        http_port=0,
    )


def run_demo(duration_s: float, plain: bool | None = None) -> int:
    plain = (not sys.stdout.isatty()) if plain is None else plain
    signal.signal(signal.SIGHUP, signal.default_int_handler)  # a closed terminal stops it like Ctrl-C
    for leftover in (DEMO_DB, Path(f"{DEMO_DB}-wal"), Path(f"{DEMO_DB}-shm")):
        leftover.unlink(missing_ok=True)
    broker = TansuBroker()
    fleet = StandinFleet()
    hooks = Receiver().start()  # a stand-in for a team's webhook receiver
    try:
        bootstrap = broker.start()
        fleet.start()
        print(f"local broker on {bootstrap} (pid {broker.pid}); stand-in agents on {fleet.url_template}", flush=True)
        print("\n".join(plan(cast())) + "\n", flush=True)
        return asyncio.run(_demo(demo_settings(bootstrap, fleet, hooks.url), fleet, hooks, duration_s, plain))
    finally:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a second hang-up never cuts the clean-up short
        hooks.stop()
        fleet.stop()
        broker.stop()


async def _demo(settings: Settings, fleet: StandinFleet, hooks: Receiver, duration_s: float, plain: bool) -> int:
    ending = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, ending.set)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(settings.lifecycle_topic, 3, 1)])
    await admin.close()
    service = Service(settings)
    service_stop = asyncio.Event()
    service_task = asyncio.create_task(service.run(service_stop))
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    story = Story(fleet, producer, settings.lifecycle_topic, cast())
    seen: list[dict[str, Any]] = []
    tasks = [asyncio.create_task(story.play(ending)), asyncio.create_task(_watch(settings, seen, ending))]
    started = time.monotonic()
    final: Counter[State] = Counter()
    members: dict[State, list[str]] = {}
    try:
        await _show(service, story, seen, hooks, started, duration_s, ending, plain)
        final, members = _states(service), _members(service)
    finally:
        ending.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await producer.stop()
        service_stop.set()
        await asyncio.wait_for(service_task, timeout=15)
    _summary(seen, final, members, len(hooks.deliveries))
    return 0


async def _show(
    service: Service,
    story: Story,
    seen: list[dict[str, Any]],
    hooks: Receiver,
    started: float,
    duration_s: float,
    ending: asyncio.Event,
    plain: bool,
) -> None:
    printed, last_sent, last_t = 0, 0, time.monotonic()
    console = Console()
    live = None if plain else Live(console=console, refresh_per_second=4, transient=False)
    if live is not None:
        live.start()
    try:
        told_at: float | None = None
        while not ending.is_set() and time.monotonic() - started < duration_s:
            now = time.monotonic()
            if told_at is None and told(story.roles, seen, _states(service)[State.COMPLETED]):
                told_at = now
            if told_at is not None and now - told_at >= LINGER_S:
                break  # the story is told
            rate = (story.sent - last_sent) / max(now - last_t, 1e-6)
            last_sent, last_t = story.sent, now
            if live is not None:
                extras = [
                    f"webhook deliveries received: {len(hooks.deliveries)} (signed POSTs, one per recovery event)"
                ]
                picture = Picture(now - started, duration_s, _states(service), seen, rate, extras, _members(service))
                live.update(render(picture))
            else:
                for event in seen[printed:]:
                    print(plain_line(event), flush=True)
                printed = len(seen)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ending.wait(), timeout=0.5)
    finally:
        if live is not None:
            live.stop()
        else:
            for event in seen[printed:]:
                print(plain_line(event), flush=True)


def _states(service: Service) -> Counter[State]:
    owned = service.consumer.owned.values() if service.consumer else []
    return Counter(record.state for part in owned for record in part.engine.records.values())


def _members(service: Service) -> dict[State, list[str]]:
    """Which executions are in each state (the demo's few dozen: a scan is fine here)."""
    owned = service.consumer.owned.values() if service.consumer else []
    members: dict[State, list[str]] = {}
    for part in owned:
        for record in part.engine.records.values():
            members.setdefault(record.state, []).append(record.execution_id)
    return {state: sorted(ids) for state, ids in members.items()}


async def _watch(settings: Settings, seen: list[dict[str, Any]], ending: asyncio.Event) -> None:
    """Follow the recoveries topic like any other service would."""
    import json

    consumer = AIOKafkaConsumer(
        settings.recoveries_topic,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        while not ending.is_set():
            batches = await consumer.getmany(timeout_ms=300)
            for messages in batches.values():
                seen += [json.loads(m.value) for m in messages if m.value]
    finally:
        await consumer.stop()


def _summary(
    seen: list[dict[str, Any]], states: Counter[State], members: dict[State, list[str]], webhook_deliveries: int
) -> None:
    unique = {e["event_id"]: e for e in seen}.values()
    by_action = Counter(e["action"] for e in unique)
    print("\nsummary")
    print("  executions: " + ", ".join(f"{s.value} {states[s]}" for s in State if states[s]))
    for state in (State.SUSPECTED, State.IDLE, State.CONFIRMED_ORPHAN, State.FAILED):
        if members.get(state):
            print(f"    {state.value}: {', '.join(members[state])}")
    print("  recoveries: " + (", ".join(f"{a} {n}" for a, n in sorted(by_action.items())) or "none"))
    print(f"  webhook deliveries: {webhook_deliveries}")
    example = next((e["execution_id"] for e in unique if e["action"] in ("orphan_recovered", "auto_terminated")), None)
    if example:
        print(f"\ntry next:\n  WATCHDOG_DATABASE_URL=sqlite:///{DEMO_DB.resolve()} exec-watchdog audit {example}")
