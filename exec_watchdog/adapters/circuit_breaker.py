"""A per-agent circuit breaker: after repeated failures, stop calling an agent for a while.

closed -> (N consecutive failures) -> open -> (cool-down) -> half-open: one trial call
-> closed on success, open again on failure. While open, calls answer "unreachable" at once, but
for a scheduled call (a probe the core decided is due): that one goes through as the trial, one at a
time, so an agent that answers again is found on the next due probe, not at the end of the cool-down.
The core's probe backoff paces those trials.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Circuit:
    failures: int = 0
    open_until: float = 0.0
    trial_in_flight: bool = False


class CircuitBreaker:
    def __init__(self, failures: int, reset_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = failures
        self.reset_s = reset_s
        self.clock = clock
        self._circuits: dict[str, _Circuit] = {}

    def allow(self, key: str, *, scheduled: bool = False) -> bool:
        if self.closed(key):
            return True
        circuit = self._circuits[key]
        if circuit.trial_in_flight or (self.clock() < circuit.open_until and not scheduled):
            return False
        circuit.trial_in_flight = True  # half-open: let one call through
        return True

    def record(self, key: str, ok: bool) -> None:
        circuit = self._circuits.setdefault(key, _Circuit())
        circuit.trial_in_flight = False
        if ok:
            circuit.failures = 0
            return
        circuit.failures += 1
        if circuit.failures >= self.threshold:
            circuit.open_until = self.clock() + self.reset_s

    def closed(self, key: str) -> bool:
        """Calls flow freely (not open, nor half-open waiting for its trial's answer)."""
        circuit = self._circuits.get(key)
        return circuit is None or circuit.failures < self.threshold

    def is_open(self, key: str) -> bool:
        circuit = self._circuits.get(key)
        return circuit is not None and circuit.failures >= self.threshold and self.clock() < circuit.open_until
