"""A row whose effect ends while the next claim is being read is not run again from that claim."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from exec_watchdog.adapters.store import OutboxItem, OutboxRow, Store
from exec_watchdog.service.effects import EffectRunner
from exec_watchdog.telemetry.metrics import Metrics


class SlowPublisher:
    """Takes a moment to hand records to the broker; remembers what it was given."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def records(self, records: Sequence[tuple[str, str, str]]) -> None:
        await asyncio.sleep(0.1)
        self.sent += [execution_id for _, _, execution_id in records]


async def test_a_recovery_event_is_published_once_when_its_publish_ends_during_a_claim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'w.db'}", group_id="g")
    store.save("life", {}, [OutboxItem("rec-1", 0, "recovery", "x-1", "bot", "{}")])
    publisher = SlowPublisher()
    runner = EffectRunner(
        store,
        publisher,
        None,
        None,
        Metrics(),
        owner="me",
        owned=lambda: [0],  # type: ignore[arg-type]
    )
    read = store.claim

    def slow_claim(*args: Any, **kwargs: Any) -> list[OutboxRow]:
        rows = read(*args, **kwargs)  # read while the publish is under way...
        time.sleep(0.4)  # ...and returned after it ended and the row was marked done
        return rows

    assert await runner.run_once() == 1
    monkeypatch.setattr(store, "claim", slow_claim)
    await runner.run_once()
    await runner.settled(timeout_s=2)
    assert publisher.sent == ["x-1"]
    assert [r.status for r in store.outbox_rows("x-1")] == ["done"]
    store.close()
