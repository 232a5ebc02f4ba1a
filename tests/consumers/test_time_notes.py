"""The audit says when an input's claimed time was not taken as it was, and why (even when the input
changed nothing else), and `replay --verify` holds those notes to the record like any decision."""

from __future__ import annotations

from pathlib import Path

from consumers.decision_records import decision_rows
from consumers.partition import PartitionState
from exec_watchdog.adapters.store import Store
from exec_watchdog.audit.view import render, timeline
from schemas.log_records import THROUGH_HEADER, LogRecord
from statemachine import Engine, Policy
from statemachine.time_notes import time_note
from tests.events import T0, as_json, lifecycle, lifecycle_json, tick

X = "skewed-1"


def test_a_heartbeat_stamped_ten_minutes_ahead_is_recorded_with_the_time_that_counted(tmp_path: Path) -> None:
    state = PartitionState(0, Engine(Policy()), lifecycle_topic="life", control_topic="ctl", keep_quiet=False)
    lifecycle_log = [
        LogRecord(0, None, lifecycle_json("started", X, 0).encode()),
        LogRecord(1, None, lifecycle_json("heartbeat", X, 30).encode()),  # believed: no note, no record
        LogRecord(2, None, lifecycle_json("heartbeat", X, 640).encode()),  # the agent's clock runs 10 min fast
    ]
    state.add_lifecycle(lifecycle_log, fetched_to=3)
    state.add_control(
        [
            LogRecord(n, None, as_json(tick(5 * n)).encode(), ((THROUGH_HEADER, b"1" if n < 7 else b"3"),))
            for n in range(9)
        ]
    )
    rows = decision_rows(state.drain().applied, 0, "digest")
    noted = [r for r in rows if r.time_note is not None]
    assert [r.source_offset for r in noted] == [2]
    assert "610s ahead of the watchdog's clock" in (noted[0].time_note or "")
    assert [r.source_offset for r in rows if r.input_type == "execution.heartbeat"] == [2]

    store = Store(f"sqlite:///{tmp_path / 'w.db'}", group_id="g")
    store.save("life", {}, [], rows)
    shown = render(timeline(store, X))  # type: ignore[arg-type]
    store.close()
    assert "time not taken as claimed: occurred_at" in shown and "610s ahead" in shown


def test_a_start_older_than_its_limit_allows_is_noted_with_the_start_that_counted() -> None:
    policy = Policy(default_timeout_s=3600, heartbeat_timeout_s=90)
    note = time_note(lifecycle("started", X, -30 * 86400), clock=T0, policy=policy)
    assert note is not None and "overdue before one HEARTBEAT_TIMEOUT_S" in note
    assert "counted as started at" in note
    assert time_note(lifecycle("started", X, -600), clock=T0, policy=policy) is None  # a late start keeps its age
