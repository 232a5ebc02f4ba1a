"""The bridge's source of activity: live entries on an execution's log stream are progress; its replay,
its keepalives and an agent that cannot be followed are not; at most `max_streams` at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from exec_watchdog.adapters.agent_http import HttpAgentApi
from exec_watchdog.adapters.agent_stream import Closed, Sink
from exec_watchdog.bridge.activity import ActivityWatch, StreamOpener, backoff_s
from exec_watchdog.demo.standin_fleet import StandinFleet

AGENT = "streamer"


@pytest.fixture
async def watch(fleet: StandinFleet) -> AsyncIterator[ActivityWatch]:
    fleet.keepalive_s = 0.2
    opener = StreamOpener(HttpAgentApi(fleet.url_template), max_streams=4, connect_timeout_s=2)
    activity = ActivityWatch(opener, max_streams=2, backoff_base_s=0.1, backoff_cap_s=0.4)
    yield activity
    await activity.close()
    await opener.aclose()


async def until_followed(fleet: StandinFleet, execution_id: str) -> None:
    for _ in range(100):
        if fleet.agent(AGENT).streams.get(execution_id):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{execution_id} was never followed")


async def test_replayed_entries_and_keepalives_are_not_progress_but_live_entries_are(
    fleet: StandinFleet, watch: ActivityWatch
) -> None:
    fleet.start_execution(AGENT, "busy")
    for n in range(20):
        fleet.log(AGENT, "busy", {"n": n})  # written before anyone followed: the replay
    watch.follow({"busy": AGENT})
    await until_followed(fleet, "busy")
    await asyncio.sleep(0.7)  # keepalives flow meanwhile
    assert watch.take_progress() == {}
    fleet.log(AGENT, "busy", {"type": "assistant"})
    await asyncio.sleep(0.2)
    [progress] = watch.take_progress().keys()
    assert progress == "busy"
    assert watch.take_progress() == {}  # taken once per round


async def test_a_reconnect_replays_again_without_counting_it(fleet: StandinFleet, watch: ActivityWatch) -> None:
    fleet.start_execution(AGENT, "cut")
    fleet.log(AGENT, "cut", {"n": 1})
    watch.follow({"cut": AGENT})
    await until_followed(fleet, "cut")
    for stream in fleet.agent(AGENT).streams["cut"]:
        stream.put_nowait(None)  # the connection is cut (the agent restarted its server)
    await asyncio.sleep(0.6)
    assert fleet.agent(AGENT).streams.get("cut"), "followed again after the cut"
    assert watch.take_progress() == {}


async def test_an_ended_stream_is_not_opened_again(fleet: StandinFleet, watch: ActivityWatch) -> None:
    fleet.start_execution(AGENT, "short")
    watch.follow({"short": AGENT})
    await until_followed(fleet, "short")
    fleet.finish(AGENT, "short")
    await asyncio.sleep(0.3)
    assert watch.followed == frozenset()
    watch.follow({"short": AGENT})  # the platform row still says running: still not followed
    assert watch.followed == frozenset()


async def test_at_most_max_streams_the_first_in_order_and_others_once_room_is_made(
    fleet: StandinFleet, watch: ActivityWatch
) -> None:
    for x in ("oldest", "older", "newest"):
        fleet.start_execution(AGENT, x)
    watch.follow({"oldest": AGENT, "older": AGENT, "newest": AGENT})
    assert watch.followed == {"oldest", "older"}
    watch.follow({"older": AGENT, "newest": AGENT})  # oldest left running
    assert watch.followed == {"older", "newest"}


async def test_an_agent_that_cannot_be_followed_is_tried_again_with_back_off(
    fleet: StandinFleet, watch: ActivityWatch
) -> None:
    fleet.set_mode(AGENT, "down")
    fleet.start_execution(AGENT, "unlucky")
    before = fleet.requests
    watch.follow({"unlucky": AGENT})
    await asyncio.sleep(1.0)
    attempts = fleet.requests - before
    assert 2 <= attempts <= 6  # 0.1, 0.2, 0.4, 0.4 ... apart, jittered: not a busy loop
    fleet.set_mode(AGENT, "ok")
    await until_followed(fleet, "unlucky")
    assert watch.take_progress() == {}


async def test_a_queued_execution_without_a_stream_yet_is_followed_once_it_runs(
    fleet: StandinFleet, watch: ActivityWatch
) -> None:
    fleet.queue(AGENT, "queued")
    watch.follow({"queued": AGENT})
    await asyncio.sleep(0.3)  # 404 meanwhile
    fleet.start_execution(AGENT, "queued")
    await until_followed(fleet, "queued")
    await asyncio.sleep(0.6)
    fleet.log(AGENT, "queued", {"type": "assistant"})
    await asyncio.sleep(0.2)
    assert set(watch.take_progress()) == {"queued"}


def test_back_off_doubles_from_the_base_up_to_the_cap_with_jitter() -> None:
    assert [backoff_s(1, 60, n, 0.5) for n in (0, 1, 2, 3, 7, 30)] == [1, 1, 2, 4, 60, 60]
    assert backoff_s(1, 60, 3, 0.0) == 2 and backoff_s(1, 60, 3, 0.999) < 6


async def test_a_follower_outlives_whatever_its_stream_throws() -> None:
    calls: list[str] = []

    async def opener(agent_name: str, execution_id: str, sink: Sink) -> Closed:
        calls.append(execution_id)
        if len(calls) == 1:
            raise RuntimeError("an agent sent something no reader expected")
        return Closed("ended", connected=True)

    activity = ActivityWatch(opener, max_streams=1, backoff_base_s=0.01)
    activity.follow({"odd": AGENT})
    for _ in range(100):
        if not activity.followed:
            break
        await asyncio.sleep(0.02)
    assert calls == ["odd", "odd"] and activity.followed == frozenset()
    await activity.close()
