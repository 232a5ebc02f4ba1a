"""The audit says when an input's claimed time was not taken as it was, and why (even when the input
changed nothing else), and `replay --verify` holds those notes to the record like any decision."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumers.decision_records import decision_rows
from consumers.partition import PartitionState
from exec_watchdog.adapters.store import Store
from exec_watchdog.audit.view import render, timeline
from schemas.log_records import THROUGH_HEADER, LogRecord
from statemachine import Engine, Policy
from statemachine.time_notes import time_note
from statemachine.timestamps import iso
from tests.events import T0, as_json, lifecycle, lifecycle_json, probe, result, tick

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


AHEAD = "ahead of the watchdog's clock (2026-11-30T00:53:20Z), beyond what MAX_CLOCK_SKEW_S and the tick interval allow"
BEHIND = "behind the watchdog's clock (2026-11-30T00:53:20Z), beyond what MAX_CLOCK_SKEW_S and the tick interval allow"
OVERDUE = "would make it overdue before one HEARTBEAT_TIMEOUT_S of watching"
AT_CLOCK = "counted at 2026-11-30T00:53:20Z"


@pytest.mark.parametrize(
    ("event", "note"),
    [
        (
            lifecycle("heartbeat", X, 640),
            f"occurred_at 2026-11-30T01:04:00Z is 640s {AHEAD}: counted at 2026-11-30T00:53:20Z",
        ),
        (
            lifecycle("heartbeat", X, -100),
            f"occurred_at 2026-11-30T00:51:40Z is 100s {BEHIND}: counted at 2026-11-30T00:53:20Z",
        ),
        (lifecycle("heartbeat", X, 15), None),  # three tick intervals ahead: believed
        (lifecycle("heartbeat", X, -30), None),  # MAX_CLOCK_SKEW_S behind: believed
        (
            lifecycle("heartbeat", X, 15.5),
            f"occurred_at 2026-11-30T00:53:35.500000Z is 15.5s {AHEAD}: counted at 2026-11-30T00:53:20Z",
        ),
        (
            lifecycle("started", X, -30 * 86400),
            f"occurred_at 2026-10-31T00:53:20Z {OVERDUE}: counted as started at 2026-11-29T23:54:50Z",
        ),
        (
            lifecycle("started", X, 365 * 86400),
            f"occurred_at 2027-11-30T00:53:20Z is 31536000s {AHEAD}: counted as started at 2026-11-30T00:53:20Z",
        ),
        (lifecycle("started", X, -600), None),  # a late start keeps its age
        (
            lifecycle("started", X, -7200, timeout_seconds=600),
            f"occurred_at 2026-11-29T22:53:20Z {OVERDUE}: counted as started at 2026-11-30T00:44:50Z",
        ),
        (
            probe(X, 100, "running"),
            f"observed_at 2026-11-30T00:55:00Z is 100s {AHEAD}: counted at 2026-11-30T00:53:20Z",
        ),
        (result("c", -50, "ok"), f"observed_at 2026-11-30T00:52:30Z is 50s {BEHIND}: {AT_CLOCK}"),
        (tick(5000), None),  # ticks are the clock
    ],
)
def test_the_note_says_what_counted_and_why(event: object, note: str | None) -> None:
    assert time_note(event, clock=T0, policy=Policy(default_timeout_s=3600, heartbeat_timeout_s=90)) == note  # type: ignore[arg-type]
    assert time_note(event, clock=None, policy=Policy()) is None  # type: ignore[arg-type]  # no clock: nothing to judge by


def test_an_old_start_is_noted_with_the_start_its_agents_own_limit_allows() -> None:
    policy = Policy(agent_timeouts={"slow-bot": 7200})
    note = time_note(lifecycle("started", "x-1", 0, agent_name="slow-bot"), T0 + 100_000_000_000, policy)
    counted = iso(T0 + (100_000 - 7200 + 90) * 1_000_000)
    assert note is not None and note.endswith(f"counted as started at {counted}")
