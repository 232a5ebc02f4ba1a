"""An execution's log stream: replayed entries told from live ones, its end, and a bounded tail for evidence."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from exec_watchdog.adapters.agent_http import HttpAgentApi
from exec_watchdog.adapters.agent_stream import (
    REPLAY_MAX_ENTRIES,
    REPLAY_MAX_S,
    REPLAY_SETTLE_S,
    Closed,
    Entry,
    Keepalive,
    Opened,
    ReplayFilter,
    StreamItem,
    read_stream,
)
from exec_watchdog.demo.standin_fleet import StandinFleet


def entry(at: float) -> Entry:
    return Entry("{}", at)


def test_a_burst_on_connect_is_the_replay_and_what_follows_a_pause_is_live() -> None:
    replay = ReplayFilter(100.0)
    assert [replay.live(entry(100.0 + n * 0.01)) for n in range(5)] == [False] * 5
    assert replay.live(entry(100.04 + REPLAY_SETTLE_S)) is True
    assert replay.live(entry(100.05 + REPLAY_SETTLE_S)) is True  # once live, every entry is


def test_a_first_entry_after_a_quiet_start_is_live() -> None:
    replay = ReplayFilter(0.0)
    assert replay.live(entry(REPLAY_SETTLE_S)) is True


def test_keepalives_are_never_progress_but_end_the_replay() -> None:
    replay = ReplayFilter(0.0)
    assert replay.live(entry(0.1)) is False
    assert replay.live(Keepalive(0.2)) is False
    assert replay.live(entry(0.21)) is True


def test_the_replay_ends_after_what_trinitys_queue_can_hold_or_after_its_time() -> None:
    replay = ReplayFilter(0.0)
    assert not any(replay.live(entry(n * 1e-5)) for n in range(REPLAY_MAX_ENTRIES))
    assert replay.live(entry(0.01)) is True
    trickle = ReplayFilter(0.0)
    assert not any(trickle.live(entry(n * 0.4)) for n in range(1, 12))  # 0.4 s apart up to 4.4 s
    assert trickle.live(entry(REPLAY_MAX_S + 0.1)) is True


def test_connecting_slowly_is_not_a_pause() -> None:
    replay = ReplayFilter(0.0)
    assert replay.live(Opened(3.0)) is False
    assert replay.live(entry(3.01)) is False  # replayed: the answer came at 3.0


async def read_all(fleet: StandinFleet, agent: str, execution_id: str) -> tuple[Closed, list[StreamItem]]:
    items: list[StreamItem] = []
    url = f"{fleet.url_template.format(agent_name=agent)}/api/executions/{execution_id}/stream"
    async with httpx.AsyncClient(timeout=10) as client:
        closed = await read_stream(client, url, {}, items.append)
    return closed, items


async def test_a_stream_replays_then_sends_live_entries_then_its_end(fleet: StandinFleet) -> None:
    fleet.keepalive_s = 0.3
    fleet.start_execution("streamer", "run-1")
    fleet.log("streamer", "run-1", {"type": "system"})

    def later() -> None:
        time.sleep(0.8)
        fleet.log("streamer", "run-1", {"type": "assistant"})
        time.sleep(0.1)
        fleet.finish("streamer", "run-1")

    threading.Thread(target=later, daemon=True).start()
    closed, items = await read_all(fleet, "streamer", "run-1")
    assert closed == Closed("ended", connected=True)
    kinds = [type(i).__name__ for i in items]
    assert kinds[0] == "Opened" and kinds[1] == "Entry" and "Keepalive" in kinds and kinds[-1] == "Entry"
    replay = ReplayFilter(0.0)
    judged = [(item, replay.live(item)) for item in items]
    live = [(item.text, is_live) for item, is_live in judged if isinstance(item, Entry)]
    assert live == [('{"type": "system"}', False), ('{"type": "assistant"}', True)]


async def test_an_ended_or_unknown_execution_has_no_stream(fleet: StandinFleet) -> None:
    fleet.start_execution("streamer", "run-2")
    fleet.finish("streamer", "run-2")
    assert (await read_all(fleet, "streamer", "run-2"))[0] == Closed("not_found", "HTTP 404")
    assert (await read_all(fleet, "streamer", "never"))[0] == Closed("not_found", "HTTP 404")
    fleet.set_mode("streamer", "unauthorized")
    assert (await read_all(fleet, "streamer", "never"))[0] == Closed("refused", "HTTP 401")


async def test_a_refused_connection_is_broken_not_ended() -> None:
    async with httpx.AsyncClient(timeout=2) as client:
        closed = await read_stream(client, "http://127.0.0.1:1/api/executions/x/stream", {}, lambda item: None)
    assert closed.why == "broken" and not closed.connected and "127.0.0.1" not in closed.detail


async def test_the_tail_is_the_latest_buffered_entries_cut_and_read_quickly(fleet: StandinFleet) -> None:
    fleet.start_execution("streamer", "run-3")
    for n in range(30):
        fleet.log("streamer", "run-3", {"n": n, "text": "x" * 2000})
    api = HttpAgentApi(fleet.url_template)
    started = time.monotonic()
    tail = await api.log_tail("streamer", "run-3", keep=3)
    assert time.monotonic() - started < 1.5
    assert [t[:9] for t in tail] == ['{"n": 27,', '{"n": 28,', '{"n": 29,']
    assert all(len(t) == 500 for t in tail)
    fleet.finish("streamer", "run-3")
    assert await api.log_tail("streamer", "run-3") == []  # gone with the execution, like Trinity's buffer
    await api.aclose()


async def test_the_tail_of_a_silent_or_hanging_stream_costs_one_deadline(fleet: StandinFleet) -> None:
    fleet.start_execution("streamer", "quiet")  # nothing buffered: no keepalive for 30 s
    api = HttpAgentApi(fleet.url_template, last_error_timeout_s=2.0)
    started = time.monotonic()
    assert await api.log_tail("streamer", "quiet") == []
    assert time.monotonic() - started < 2.5
    assert await api.log_tail("streamer", "../etc") == []  # refused before any request
    await api.aclose()


@pytest.mark.parametrize("keep", [1, 10])
async def test_a_tail_never_holds_more_than_asked(fleet: StandinFleet, keep: int) -> None:
    fleet.start_execution("streamer", "many")
    for n in range(600):
        fleet.log("streamer", "many", {"n": n})
    api = HttpAgentApi(fleet.url_template)
    tail = await asyncio.wait_for(api.log_tail("streamer", "many", keep=keep), 5)
    assert len(tail) == keep and tail[-1] == '{"n": 499}'  # Trinity replays its first 500 buffered
    await api.aclose()
