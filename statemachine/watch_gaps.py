"""Time the watchdog did not watch: the first tick's judgement of times claimed before it, and gaps in
the ticks taken out of every record. Both change the engine's own records in place (like `beat`)."""

from __future__ import annotations

from collections.abc import Iterable
from operator import attrgetter

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


_ALWAYS_SET = ("started_at", "last_seen", "last_activity")
"""Time fields every record holds (typed `int`, never None)."""
_MOSTLY_UNSET = tuple(name for name in TIME_FIELDS if name not in (*_ALWAYS_SET, "armed_at"))
_mostly_unset = attrgetter(*_MOSTLY_UNSET)
_NONE_SET = (None,) * len(_MOSTLY_UNSET)


def shift(records: Iterable[ExecutionRecord], delta: int) -> None:
    """A gap in the ticks (the broker, the ticker or the owner was away) or a jump of the ticker's
    clock, forward or back: every time a record holds moves by `delta`, so the unwatched part counts
    as neither silence nor age. (Every record is visited: the fields most records hold are moved by
    name, the rarely set ones looked at together.)"""
    for record in records:
        record.started_at += delta
        record.last_seen += delta
        record.last_activity += delta
        if record.armed_at is not None:
            record.armed_at += delta
        rare = _mostly_unset(record)
        if rare != _NONE_SET:
            for name, value in zip(_MOSTLY_UNSET, rare, strict=True):
                if value is not None:
                    setattr(record, name, value + delta)
