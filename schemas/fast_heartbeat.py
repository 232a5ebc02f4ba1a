"""The heartbeat fast path: a plain, valid heartbeat of a tracked execution, decoded in microseconds.

A fleet's lifecycle log is mostly heartbeats, and a heartbeat of a running execution needs only two
of its fields. `plain_heartbeat` accepts a strict subset of what `parse_lifecycle` accepts (ASCII
ids, a UTC timestamp with at most microseconds, no `timeout_seconds` or `attributes`) and returns
the same two values the full parser gives. Anything else returns None and takes the full parser,
which also names the reason a record is rejected. `tests/test_fast_heartbeat.py` holds the two
parsers to that, on fuzzed records.
"""

from __future__ import annotations

import re
from collections.abc import Container
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import msgspec

from schemas.fields import AGENT_NAME_PATTERN, EARLIEST_YEAR, LATEST_YEAR, whole_match
from schemas.parsing import MAX_RECORD_BYTES

HEARTBEAT = "execution.heartbeat"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


_AGENT_NAME = whole_match(AGENT_NAME_PATTERN)
_UTC_MICROS = re.compile(
    r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?(?:Z|\+00:00)\Z"
)
"""The one timestamp shape taken here: UTC, whole seconds to microseconds (hour 24 and leap seconds excluded)."""


class _Heartbeat(msgspec.Struct):
    schema_version: Literal[1]
    type: str
    event_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    execution_id: str
    agent_name: str
    occurred_at: str
    timeout_seconds: None = None
    attributes: None = None
    """A heartbeat with either of these takes the full parser, which checks their limits."""


_DECODER = msgspec.json.Decoder(_Heartbeat)
_AGENTS: set[str] = set()
"""Agent names already found valid: a fleet has few, and each heartbeat names one."""


def plain_heartbeat(data: bytes, tracked: Container[str]) -> tuple[str, int, str, str] | None:
    """`(execution_id, occurred_at in µs since the epoch, agent_name, event_id)` of a plain heartbeat of an execution in
    `tracked`, else None. Tracked ids were validated when first seen: membership stands for the pattern."""
    if len(data) > MAX_RECORD_BYTES:
        return None
    try:
        beat = _DECODER.decode(data)
    except msgspec.MsgspecError:
        return None
    if beat.type != HEARTBEAT or not beat.event_id.isascii():
        return None
    if beat.agent_name not in _AGENTS and not _known_agent(beat.agent_name):
        return None
    if beat.execution_id not in tracked:
        return None
    at = _micros(beat.occurred_at)
    return None if at is None else (beat.execution_id, at, beat.agent_name, beat.event_id)


def _known_agent(name: str) -> bool:
    if _AGENT_NAME.match(name) is None:
        return False
    if len(_AGENTS) >= 4096:
        _AGENTS.clear()
    _AGENTS.add(name)
    return True


def _micros(text: str) -> int | None:
    """A timestamp of the one shape, in µs since the epoch; None for any other text or a day that does not exist."""
    if _UTC_MICROS.match(text) is None or not EARLIEST_YEAR <= int(text[:4]) <= LATEST_YEAR:
        return None
    try:
        return (datetime.fromisoformat(text) - _EPOCH) // _MICROSECOND
    except ValueError:
        return None
