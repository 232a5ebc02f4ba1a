"""Field types shared by every event: ids, names, timestamps, free-form attributes, states."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, JsonValue, Strict

SCHEMA_VERSION = 1
"""The schema version this build writes, and reads without upcasting."""

MAX_ATTRIBUTES_BYTES = 8 * 1024
EXECUTION_ID_PATTERN = r"^(?:[A-Za-z0-9_.:-]{3,128}|[A-Za-z0-9_:-][A-Za-z0-9_.:-]?|\.[A-Za-z0-9_:-])$"
"""1–128 characters of `A-Za-z0-9_.:-`, but never `.` or `..` (path segments with a meaning of their own)."""
AGENT_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"


def whole_match(pattern: str) -> re.Pattern[str]:
    """`^…$` as Python's `re` must spell it to match like pydantic's: `$` would allow a final newline."""
    assert pattern.startswith("^") and pattern.endswith("$")
    return re.compile(r"\A" + pattern[1:-1] + r"\Z")


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


def _require_rfc3339(value: Any) -> Any:
    if isinstance(value, datetime):
        return value  # built in code, not parsed: the aware-datetime check still applies
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 timestamp with an offset or Z, e.g. 2026-11-28T21:00:00Z")
    return value


EARLIEST_YEAR, LATEST_YEAR = 1970, 2999
"""An event time outside these years (UTC) is no plausible claim: refused, so arithmetic on it never overflows."""


def _plausible(value: datetime) -> datetime:
    try:
        year = value.astimezone(UTC).year
    except (OverflowError, ValueError):
        year = 0  # 9999-12-31T23:59:59-12:00 is past the last representable day in UTC
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise ValueError(f"must lie between the years {EARLIEST_YEAR} and {LATEST_YEAR} (UTC)")
    return value


def _attributes_fit(value: dict[str, JsonValue]) -> dict[str, JsonValue]:
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_ATTRIBUTES_BYTES:
        raise ValueError(f"is {size} bytes serialized; at most {MAX_ATTRIBUTES_BYTES} are allowed")
    return value


ExecutionId = Annotated[str, Field(pattern=EXECUTION_ID_PATTERN, max_length=128)]
AgentName = Annotated[str, Field(pattern=AGENT_NAME_PATTERN, max_length=63)]
EventId = Annotated[str, Field(min_length=1, max_length=128)]
# Lax inside (the before-validator hands on a str, which strict mode would refuse as a datetime);
# the RFC 3339 check above is what keeps numbers and date-only strings out.
Timestamp = Annotated[AwareDatetime, Strict(False), BeforeValidator(_require_rfc3339), AfterValidator(_plausible)]
Attributes = Annotated[dict[str, JsonValue], AfterValidator(_attributes_fit)]


class State(StrEnum):
    """The states an execution moves through, as the outputs name them."""

    RUNNING = "running"
    SUSPECTED = "suspected"
    IDLE = "idle"
    CONFIRMED_ORPHAN = "confirmed_orphan"
    FAILED = "failed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset({State.FAILED, State.COMPLETED, State.CANCELLED})
