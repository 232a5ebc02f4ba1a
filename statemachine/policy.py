"""The thresholds that decide what is stuck, and what may be done about it."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from statemachine.timestamps import seconds_to_micros

Seconds = Annotated[float, Field(gt=0, le=366 * 86400)]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """A policy's durations in microseconds, the unit of every deadline."""

    heartbeat_timeout: int
    idle_after: int
    min_age: int
    terminal_retention: int
    default_timeout: int
    agent_timeouts: dict[str, int]
    tick_gap: int
    """A step between two ticks beyond this is time nobody watched: it is not counted."""
    max_skew: int
    max_ahead: int
    """How far ahead of the clock a claimed time is believed: the next tick's furthest, within the skew."""


class Policy(BaseModel):
    """Decision thresholds, in seconds. Built from the settings (contract §8) by the shell."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    heartbeat_timeout_s: Seconds = 90
    min_age_s: Annotated[float, Field(ge=0, le=366 * 86400)] = 60
    idle_after_s: Seconds = 1800
    idle_without_activity: bool = False
    """Announce idle for lack of activity also when none was ever seen for the execution (its source
    may emit none): off, only a runtime past its limit makes such an execution idle."""
    default_timeout_s: Seconds = 3600
    agent_timeouts: dict[str, Seconds] = Field(default_factory=dict)
    auto_terminate: bool = False
    probe_retry_s: Seconds = 15
    probe_retry_max_s: Seconds = 300
    command_retry_s: Seconds = 30
    command_retry_max_s: Seconds = 600
    terminal_retention_s: Seconds = 3600
    brake_enabled: bool = True
    brake_share: Annotated[float, Field(gt=0, le=1)] = 0.3
    brake_min_executions: Annotated[int, Field(ge=1)] = 10
    brake_window_s: Seconds = 300
    incident_list_limit: Annotated[int, Field(ge=1, le=1000)] = 20
    tick_interval_s: Seconds = 5
    """How often the shell writes ticks; a step of more than three of them is a gap in the watch."""
    max_clock_skew_s: Seconds = 30
    """How far a source's time may lie behind the watchdog's clock and still be believed."""

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Policy:
        """A copy with `update`, its thresholds converted anew (the cached `us` would keep the old ones)."""
        copy = super().model_copy(update=update, deep=deep)
        copy.__dict__.pop("us", None)
        return copy

    def micros(self, seconds: float) -> int:
        return seconds_to_micros(seconds)

    @cached_property
    def us(self) -> Thresholds:
        """The thresholds every deadline needs, in microseconds, converted once (a policy is immutable)."""
        return Thresholds(
            heartbeat_timeout=seconds_to_micros(self.heartbeat_timeout_s),
            idle_after=seconds_to_micros(self.idle_after_s),
            min_age=seconds_to_micros(self.min_age_s),
            terminal_retention=seconds_to_micros(self.terminal_retention_s),
            default_timeout=seconds_to_micros(self.default_timeout_s),
            agent_timeouts={name: seconds_to_micros(limit) for name, limit in self.agent_timeouts.items()},
            tick_gap=seconds_to_micros(3 * self.tick_interval_s),
            max_skew=seconds_to_micros(self.max_clock_skew_s),
            max_ahead=min(seconds_to_micros(3 * self.tick_interval_s), seconds_to_micros(self.max_clock_skew_s)),
        )

    def timeout_micros(self, agent_name: str, own_timeout_us: int | None) -> int:
        """Effective runtime limit: the execution's own, else its agent's, else the default."""
        if own_timeout_us is not None:
            return own_timeout_us
        return self.us.agent_timeouts.get(agent_name, self.us.default_timeout)

    def backoff_micros(self, base_s: float, cap_s: float, attempts: int) -> int:
        """`base * 2**attempts`, capped: deterministic (the runner adds jitter to real calls)."""
        return seconds_to_micros(min(base_s * (2 ** min(attempts, 32)), cap_s))

    @property
    def digest(self) -> str:
        """A stable short hash of the values, recorded with every decision."""
        canonical = self.model_dump_json().encode()
        return hashlib.sha256(canonical).hexdigest()[:16]
