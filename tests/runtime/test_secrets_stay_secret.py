"""Secrets never appear in logs, on /metrics, in audit or on any topic, during a real recovery."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from exec_watchdog.adapters.agent_api import agent_token
from exec_watchdog.adapters.store import Store
from exec_watchdog.audit.view import render, timeline
from exec_watchdog.demo.local_broker import free_port
from exec_watchdog.demo.standin_fleet import StandinFleet
from exec_watchdog.demo.webhook_receiver import Receiver
from tests.runtime.harness import create_topic, lifecycle, producer, read_topic, recoveries, running, test_settings

pytestmark = pytest.mark.kafka
AGENT_SECRET, HOOK_SECRET = "agent-secret-0a1b2c", "hook-secret-3d4e5f"


async def test_no_secret_or_token_leaks_anywhere(
    kafka_bootstrap: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fleet = StandinFleet(auth_secret=AGENT_SECRET)
    fleet.start()
    hooks = Receiver().start()
    port = free_port()
    try:
        settings = test_settings(
            kafka_bootstrap,
            tmp_path,
            fleet,
            agent_auth_secret=AGENT_SECRET,
            notify_webhook_url=hooks.url,
            notify_webhook_secret=HOOK_SECRET,
            http_port=port,
        )
        await create_topic(kafka_bootstrap, settings.lifecycle_topic, 1)
        async with running(settings), producer(kafka_bootstrap) as p:
            await p.send_and_wait(settings.lifecycle_topic, lifecycle("started", "orph-s", "locked-bot", -5), key=b"k")
            records = await read_topic(
                kafka_bootstrap, settings.recoveries_topic, until=lambda rs: bool(recoveries(rs))
            )
            async with httpx.AsyncClient() as client:
                metrics = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
            audit_topic = await read_topic(kafka_bootstrap, settings.audit_topic, until=lambda rs: len(rs) >= 2)
        store = Store(settings.database_url, settings.group_id)
        found = timeline(store, "orph-s")
        store.close()
    finally:
        hooks.stop()
        fleet.stop()
    assert [e["action"] for e in recoveries(records)] == ["orphan_recovered"]  # the token worked
    assert found is not None
    token = agent_token(AGENT_SECRET, "locked-bot")
    seen = "\n".join(
        [
            caplog.text,
            metrics,
            render(found),
            found.model_dump_json(),
            *(r.value.decode() for r in records + audit_topic if r.value),
        ]
    )
    for secret in (AGENT_SECRET, HOOK_SECRET, token):
        assert secret not in seen
