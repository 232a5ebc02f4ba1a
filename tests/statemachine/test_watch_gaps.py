"""A gap in the watch moves every time a record holds, and nothing else."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from schemas.fields import State
from statemachine.record import FIELD_NAMES, TIME_FIELDS, ExecutionRecord, field_values
from statemachine.watch_gaps import shift

OPTIONAL_TIMES = [name for name in TIME_FIELDS if name not in ("started_at", "last_seen", "last_activity")]
BASE = 1_796_000_000_000_000


@given(
    st.dictionaries(st.sampled_from(OPTIONAL_TIMES), st.integers(BASE, BASE + 10**12)),
    st.integers(-(10**11), 10**11),
)
def test_every_time_field_moves_by_the_gap_and_no_other_field_moves(set_times: dict[str, int], delta: int) -> None:
    record = ExecutionRecord("x-1", "bot", State.RUNNING, BASE, BASE + 5, BASE + 7, own_timeout_us=60, seq=3)
    for name, value in set_times.items():
        setattr(record, name, value)
    before = dict(zip(FIELD_NAMES, field_values(record), strict=True))
    shift([record], delta)
    after = dict(zip(FIELD_NAMES, field_values(record), strict=True))
    for name in FIELD_NAMES:
        if name in TIME_FIELDS and before[name] is not None:
            assert after[name] == before[name] + delta, name
        else:
            assert after[name] == before[name], name
