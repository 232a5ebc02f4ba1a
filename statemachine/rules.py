"""Pure predicates over one record at one moment, and when the record next needs a look."""

from __future__ import annotations

from collections.abc import Callable

from schemas.fields import State
from statemachine.policy import Policy
from statemachine.record import ExecutionRecord


def timeout_us(rec: ExecutionRecord, policy: Policy) -> int:
    return policy.timeout_micros(rec.agent_name, rec.own_timeout_us)


def silent(rec: ExecutionRecord, now: int, policy: Policy) -> bool:
    return now - rec.last_seen >= policy.us.heartbeat_timeout


def over_timeout(rec: ExecutionRecord, now: int, policy: Policy) -> bool:
    return now - rec.started_at >= timeout_us(rec, policy)


def is_idle(rec: ExecutionRecord, now: int, policy: Policy) -> bool:
    quiet = now - rec.last_activity >= policy.us.idle_after
    return quiet or over_timeout(rec, now, policy)


def old_enough(rec: ExecutionRecord, now: int, policy: Policy) -> bool:
    return now - rec.started_at >= policy.us.min_age


def acting(rec: ExecutionRecord, now: int, policy: Policy) -> bool:
    """A terminate or mark_failed is in flight: silence is expected, not suspicious."""
    return rec.action_kind is not None


GUARD_FUNCS: dict[str, Callable[[ExecutionRecord, int, Policy], bool]] = {
    "acting": acting,
    "is_idle": is_idle,
    "old_enough": old_enough,
}


def next_due(rec: ExecutionRecord, policy: Policy) -> int | None:
    """The earliest event time at which a tick could change this record, or None."""
    if rec.state.is_terminal:
        return None if rec.ended_at is None else rec.ended_at + policy.us.terminal_retention
    candidates = [] if rec.retry_at is None else [rec.retry_at]
    silence_at = rec.last_seen + policy.us.heartbeat_timeout
    timeout_at = rec.started_at + timeout_us(rec, policy)
    if rec.state is State.RUNNING:
        candidates += [silence_at, rec.last_activity + policy.us.idle_after, timeout_at]
    elif rec.state is State.IDLE and rec.action_kind is None:
        candidates.append(silence_at)
        if policy.auto_terminate and not rec.held:
            candidates.append(timeout_at)
    elif rec.state is State.SUSPECTED and rec.next_probe_at is not None:
        candidates.append(rec.next_probe_at)
    return min(candidates) if candidates else None
