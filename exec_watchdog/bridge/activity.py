"""The bridge's source of activity: each running execution's log stream on its agent, followed.

One long-lived connection per running execution, at most `max_streams` at once (the oldest
executions first). An entry the agent sends live is progress; the entries it replays on connect and
its keepalives are not. A connection that fails is tried again after a jittered back-off (doubling
up to `backoff_cap_s`; a 404 is a failure too: a queued execution has no stream yet); one that
ends with `stream_end` is not opened again. The bridge takes the latest progress once a round, so
`execution.activity` is published at most once per execution and round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime

import httpx

from exec_watchdog.adapters.agent_http import HttpAgentApi, Refused
from exec_watchdog.adapters.agent_stream import Closed, ReplayFilter, Sink, StreamItem, read_stream

log = logging.getLogger(__name__)
Opener = Callable[[str, str, Sink], Awaitable[Closed]]
"""Reads one connection to `(agent_name, execution_id)`'s stream, handing what arrives to the sink."""


class ActivityWatch:
    def __init__(
        self,
        open_stream: Opener,
        max_streams: int,
        *,
        backoff_base_s: float = 1.0,
        backoff_cap_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._open = open_stream
        self._max = max_streams
        self._base_s = backoff_base_s
        self._cap_s = backoff_cap_s
        self._clock = clock
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._ended: set[str] = set()
        self._progress: dict[str, datetime] = {}

    @property
    def followed(self) -> frozenset[str]:
        return frozenset(self._tasks)

    def follow(self, running: Mapping[str, str]) -> None:
        """Follow these executions (id -> agent, in priority order) and no others."""
        for execution_id in [x for x in self._tasks if x not in running]:
            self._tasks.pop(execution_id).cancel()
        self._ended &= running.keys()
        for execution_id, agent_name in running.items():
            if len(self._tasks) >= self._max:
                break
            if execution_id not in self._tasks and execution_id not in self._ended:
                task = asyncio.create_task(self._follow(agent_name, execution_id), name=f"stream {execution_id}")
                self._tasks[execution_id] = task

    def take_progress(self) -> dict[str, datetime]:
        """When each execution last made progress, since the last call."""
        progress, self._progress = self._progress, {}
        return progress

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _follow(self, agent_name: str, execution_id: str) -> None:
        failures = 0
        while True:
            try:
                closed = await self._open(agent_name, execution_id, self._progress_of(execution_id))
            except Exception as error:  # whatever an agent sends, this follower lives on
                closed = Closed("broken", type(error).__name__)
            if closed.why == "ended":
                self._ended.add(execution_id)
                self._tasks.pop(execution_id, None)
                return
            failures = 0 if closed.connected else failures + 1
            delay = backoff_s(self._base_s, self._cap_s, failures, random.random())
            if failures == 1:
                log.info(
                    "log stream of %s on agent %s not followed (%s %s); trying again with back-off",
                    execution_id,
                    agent_name,
                    closed.why,
                    closed.detail,
                    extra={"execution_id": execution_id, "agent_name": agent_name},
                )
            await asyncio.sleep(delay)

    def _progress_of(self, execution_id: str) -> Sink:
        """A sink for one connection: its live entries are the execution's progress."""
        replay = ReplayFilter(self._clock())

        def sink(item: StreamItem) -> None:
            if replay.live(item):  # a live entry: never a keepalive, never the replay
                self._progress[execution_id] = datetime.now(UTC)

        return sink


def backoff_s(base_s: float, cap_s: float, failures: int, draw: float) -> float:
    """The wait before connecting again: `base_s` after a connection that worked, doubling with each
    failure in a row up to `cap_s`, times a jitter of 0.5 to 1.5 (`draw` in [0, 1))."""
    return min(cap_s, base_s * 2.0 ** max(failures - 1, 0)) * (0.5 + draw)


class StreamOpener:
    """Opens log streams with the agent client's URLs and tokens, on connections of their own: a
    long-lived stream never takes one of the agent client's slots, and a silent one (no keepalive in
    `idle_timeout_s`) is cut and opened again."""

    def __init__(
        self, agents: HttpAgentApi, max_streams: int, connect_timeout_s: float, idle_timeout_s: float = 75.0
    ) -> None:
        self._agents = agents
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(None, connect=connect_timeout_s, read=idle_timeout_s),
            limits=httpx.Limits(max_connections=max_streams, max_keepalive_connections=0),
            follow_redirects=False,
        )

    async def __call__(self, agent_name: str, execution_id: str, sink: Sink) -> Closed:
        try:
            url = self._agents.url(agent_name, "/api/executions/{id}/stream", execution_id)
        except Refused as refusal:
            return Closed("refused", str(refusal))
        return await read_stream(self._client, url, self._agents.headers(agent_name), sink)

    async def aclose(self) -> None:
        await self._client.aclose()
