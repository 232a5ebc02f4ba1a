"""Pure predicates over one record at one moment, and when the record next needs a look."""

from __future__ import annotations

from collections.abc import Callable

from schemas.fields import State
from statemachine.policy import Policy
from statemachine.record import ExecutionRecord


def believed(t: int, clock: int | None, policy: Policy) -> bool:
    """A source's time is believed within MAX_CLOCK_SKEW_S behind the watchdog's clock (the last tick
    applied), and ahead of it no further than the next tick can come (three tick intervals) nor than
    MAX_CLOCK_SKEW_S: the contract believes a claim only within the skew either way."""
    return clock is None or clock - policy.us.max_skew <= t <= clock + policy.us.max_ahead


def observed(t: int, clock: int | None, policy: Policy) -> int:
    """When a claimed time counts: as claimed when believed, else at the watchdog's own clock. So no
    stamp in the future makes an execution immortal (a sign of life counts no later than the next tick
    can come), and a source whose clock lags is judged by when the watchdog saw it."""
    if clock is None or believed(t, clock, policy):
        return t
    return clock


def start_time(t: int, clock: int | None, agent_name: str, own_timeout_us: int | None, policy: Policy) -> int:
    """When an execution counts as started: an unbelievable start in the future counts from now; one in
    the past keeps its real age (the bridge reports rows that began minutes ago), but never so old that
    it is overdue before it has been watched for one heartbeat timeout."""
    if clock is None:
        return t
    if t > clock + policy.us.max_ahead:
        return clock
    return max(t, clock - policy.timeout_micros(agent_name, own_timeout_us) + policy.us.heartbeat_timeout)


def may_terminate(rec: ExecutionRecord) -> bool:
    """Nothing rules a terminate out: no earlier one found nothing to end, and no other agent claims it."""
    return not rec.terminate_missed and rec.conflict_agent is None


def timeout_us(rec: ExecutionRecord, policy: Policy) -> int:
    return policy.timeout_micros(rec.agent_name, rec.own_timeout_us)


def silent(rec: ExecutionRecord, now: int, policy: Policy) -> bool:
    return now - rec.last_seen >= policy.us.heartbeat_timeout


def over_timeout(rec: ExecutionRecord, policy: Policy) -> bool:
    """Seen alive past its limit: judged at the latest sign of life, never at a moment nobody saw it
    alive (a source that reports every interval may have seen it end just before the limit)."""
    return rec.last_seen - rec.started_at >= timeout_us(rec, policy)


def watched_for_activity(rec: ExecutionRecord, policy: Policy) -> bool:
    """Its lack of activity means something: activity was seen for it, or the policy counts silence
    from a source that may report none."""
    return rec.activity_seen or policy.idle_without_activity


def is_idle(rec: ExecutionRecord, now: int, policy: Policy) -> bool:
    """Alive but without progress for IDLE_AFTER_S, or past its limit, as of the latest sign of life."""
    quiet = watched_for_activity(rec, policy) and rec.last_seen - rec.last_activity >= policy.us.idle_after
    return quiet or over_timeout(rec, policy)


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
        # Past a limit but not yet seen alive past it, the record is looked at each tick until a sign of
        # life (or the silence) decides: at most HEARTBEAT_TIMEOUT_S of ticks.
        candidates += [silence_at, timeout_at]
        if watched_for_activity(rec, policy):
            candidates.append(rec.last_activity + policy.us.idle_after)
    elif rec.state is State.IDLE and rec.action_kind is None:
        candidates.append(silence_at)
        if policy.auto_terminate and not rec.held and may_terminate(rec):
            candidates.append(timeout_at)
    elif rec.state is State.SUSPECTED and rec.next_probe_at is not None:
        candidates.append(rec.next_probe_at)
    return min(candidates) if candidates else None
