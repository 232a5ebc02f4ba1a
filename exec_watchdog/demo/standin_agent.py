"""One stand-in agent's state: what it runs, has finished and queues, its log buffers and streams,
and how it is told to misbehave."""

from __future__ import annotations

import contextlib
import json
import queue
from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["ok", "down", "unauthorized", "garbage", "slow", "redirect"]


@dataclass
class StandinAgent:
    running: dict[str, float] = field(default_factory=dict)
    completed: dict[str, int] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)
    mode: Mode = "ok"
    slow_s: float = 20.0
    fail_next: int = 0
    """Answer this many coming requests with 503, then behave again."""
    in_flight: int = 0
    max_in_flight: int = 0
    survives_terminates: int = 0
    """Acknowledge this many coming terminates with `terminated` and keep the process running."""
    errors: dict[str, tuple[str, str]] = field(default_factory=dict)
    """The last error in a running execution's log buffer (type, message); the buffer goes when it ends."""
    logs: dict[str, list[str]] = field(default_factory=dict)
    """A running execution's log buffer (its latest 1,000 entries), replayed to each new stream."""
    streams: dict[str, list[queue.Queue[str | None]]] = field(default_factory=dict)
    """The open streams of each execution: each gets the live entries, then `stream_end` (None: cut)."""


STREAM_END = json.dumps({"type": "stream_end"})


def unregister(agent: StandinAgent, execution_id: str) -> None:
    """The execution ended: its open streams get `stream_end`; its buffer is dropped (the agent's
    log stream and last error answer 404 from now on)."""
    for stream in agent.streams.pop(execution_id, []):
        with contextlib.suppress(queue.Full):
            stream.put_nowait(STREAM_END)
    agent.logs.pop(execution_id, None)
