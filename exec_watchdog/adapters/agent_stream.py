"""An execution's log stream on its agent (contract §4): what arrives and when, and where a replay ends.

Trinity's `GET /api/executions/{id}/stream` sends the execution's buffered entries first, then live
ones, a `: keepalive` comment after 30 s without any, and `data: {"type":"stream_end"}` when the
execution ends; 404 when the agent holds nothing for it. Nothing marks where the replay ends, but it
is a burst: everything buffered is queued before the first byte is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import httpx

from exec_watchdog.adapters.sse import Data, SseParser

REPLAY_SETTLE_S = 0.5
"""A pause this long ends a replay: the buffered entries are all queued before the first is sent."""
REPLAY_MAX_ENTRIES = 500
"""Trinity's subscriber queue holds 500 entries: a replay is never longer."""
REPLAY_MAX_S = 5.0
"""However the entries trickle in, a replay is over this long after connecting."""
MAX_TAIL_CHARS = 500
"""Each entry of a kept tail is cut to this many characters."""


@dataclass(frozen=True, slots=True)
class Entry:
    text: str
    arrived: float
    """The reader's monotonic clock when the entry was read."""


@dataclass(frozen=True, slots=True)
class Keepalive:
    arrived: float


@dataclass(frozen=True, slots=True)
class Opened:
    """The agent answered 200: the replay starts now (connecting may have taken longer than a pause)."""

    arrived: float


StreamItem = Entry | Keepalive | Opened
Sink = Callable[[StreamItem], None]


@dataclass(frozen=True, slots=True)
class Closed:
    """How a stream ended: `ended` (the execution's own end, `stream_end`), `not_found` (404),
    `refused` (any other answer: 401, 5xx, ...) or `broken` (no connection, a timeout, a cut)."""

    why: Literal["ended", "not_found", "refused", "broken"]
    detail: str = ""
    connected: bool = False
    """The agent answered 200 before it closed."""


class ReplayFilter:
    """Tells live entries from the replayed ones of one connection: the replay ends at the first pause
    of REPLAY_SETTLE_S (or a keepalive), after REPLAY_MAX_ENTRIES, or REPLAY_MAX_S after connecting."""

    def __init__(self, connected_at: float) -> None:
        self._start(connected_at)

    def _start(self, at: float) -> None:
        self._connected_at = at
        self._last = at
        self._replayed = 0
        self._replaying = True

    def live(self, item: StreamItem) -> bool:
        """True for an entry sent after the replay; a keepalive is never an entry, but ends the replay."""
        if isinstance(item, Opened):
            self._start(item.arrived)
            return False
        if self._replaying:
            paused = item.arrived - self._last >= REPLAY_SETTLE_S
            late = item.arrived - self._connected_at >= REPLAY_MAX_S
            self._replaying = not (paused or late or self._replayed >= REPLAY_MAX_ENTRIES)
            self._replayed += 1
        self._last = item.arrived
        if isinstance(item, Keepalive):
            self._replaying = False
            return False
        return not self._replaying


async def read_stream(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    sink: Sink,
    clock: Callable[[], float] = time.monotonic,
) -> Closed:
    """Read one connection to its end, handing each entry and keepalive to `sink` as it arrives."""
    try:
        async with client.stream("GET", url, headers=headers) as response:
            if response.status_code == 404:
                return Closed("not_found", "HTTP 404")
            if response.status_code != 200:
                return Closed("refused", f"HTTP {response.status_code}")
            sink(Opened(clock()))
            parser = SseParser()
            async for chunk in response.aiter_bytes():
                for event in parser.feed(chunk):
                    arrived = clock()
                    if not isinstance(event, Data):
                        sink(Keepalive(arrived))
                    elif _ends(event.text):
                        return Closed("ended", connected=True)
                    else:
                        sink(Entry(event.text, arrived))
            return Closed("broken", "the agent closed the stream", connected=True)
    except httpx.HTTPError as error:
        return Closed("broken", type(error).__name__)  # the type only: messages can carry the URL


async def read_tail(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], *, keep: int, within_s: float
) -> list[str]:
    """The last `keep` entries the agent replays on connect (each cut to MAX_TAIL_CHARS), read for at
    most `within_s` and no longer than the replay lasts; none when the agent holds none."""
    tail: deque[str] = deque(maxlen=keep)
    loop = asyncio.get_running_loop()
    latest = loop.time() + within_s
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout_at(min(latest, loop.time() + REPLAY_SETTLE_S * 2)) as deadline:

            def sink(item: StreamItem) -> None:
                if isinstance(item, Opened):
                    return
                if isinstance(item, Keepalive):  # nothing more was buffered
                    deadline.reschedule(loop.time())
                    return
                tail.append(item.text[:MAX_TAIL_CHARS])
                deadline.reschedule(min(latest, loop.time() + REPLAY_SETTLE_S))

            await read_stream(client, url, headers, sink)
    return list(tail)


def _ends(text: str) -> bool:
    if '"stream_end"' not in text:
        return False
    try:
        message = json.loads(text)
    except ValueError:
        return False
    return isinstance(message, dict) and message.get("type") == "stream_end"
