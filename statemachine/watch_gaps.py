"""Time the watchdog did not watch: the first tick's judgement of times claimed before it, and gaps in
the ticks taken out of every record. Both change the engine's own records in place (like `beat`)."""

from __future__ import annotations

from collections.abc import Iterable

from statemachine.policy import Policy
from statemachine.record import TIME_FIELDS, ExecutionRecord
from statemachine.rules import start_time


def vouch(records: Iterable[ExecutionRecord], now: int, policy: Policy) -> None:
    """The first tick: times claimed before there was a clock to judge them by (a backlog read at
    start-up, or a hostile stamp) meet the rules now. A start keeps its age within `start_time`'s
    bounds; a time ahead of the clock counts from now, so no stamp makes an execution immortal.
    Past signs of life keep their times: a backlog's silence is real silence."""
    ahead = now + policy.us.max_ahead
    for record in records:
        own = record.own_timeout_us
        record.started_at = start_time(record.started_at, now, record.agent_name, own, policy)
        record.last_seen = now if record.last_seen > ahead else record.last_seen
        record.last_activity = now if record.last_activity > ahead else record.last_activity
        if record.ended_at is not None and record.ended_at > ahead:
            record.ended_at = now


def shift(records: Iterable[ExecutionRecord], delta: int) -> None:
    """A gap in the ticks (the broker, the ticker or the owner was away) or a jump of the ticker's
    clock, forward or back: every time a record holds moves by `delta`, so the unwatched part counts
    as neither silence nor age."""
    for record in records:
        for name in TIME_FIELDS:
            value = getattr(record, name)
            if value is not None:
                setattr(record, name, value + delta)
