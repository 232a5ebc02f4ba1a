"""What the bridge publishes for what it sees (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from exec_watchdog.adapters.agent_api import Known
from exec_watchdog.adapters.trinity_db import PlatformExecution
from exec_watchdog.bridge.events import Observation, bridge_events

NOW = datetime(2026, 11, 28, 21, 0, tzinfo=UTC)


def row(execution_id: str, status: str = "running", agent: str = "bot") -> PlatformExecution:
    return PlatformExecution(execution_id, agent, status, NOW - timedelta(minutes=5), None, 900.0)


def seen(running: list[PlatformExecution], ended: list[PlatformExecution] = (), **agents: Known) -> Observation:  # type: ignore[assignment]
    return Observation(NOW, 15, running, list(ended), agents)


def kinds(events: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(e.type, e.execution_id) for e in events]


def test_a_new_running_row_is_announced_with_its_start_and_effective_timeout() -> None:
    [event] = bridge_events(set(), seen([row("x-1")]))
    assert (event.type, event.timeout_seconds, event.occurred_at) == (
        "execution.started",
        900.0,
        NOW - timedelta(minutes=5),
    )


def test_heartbeats_only_for_what_the_agent_runs_or_queues() -> None:
    known = Known(frozenset({"run"}), recently_completed=frozenset({"done"}), pending=frozenset({"queued"}))
    rows = [row("run"), row("done"), row("queued"), row("unknown")]
    events = bridge_events({"run", "done", "queued", "unknown"}, seen(rows, bot=known))
    assert kinds(events) == [("execution.heartbeat", "run"), ("execution.heartbeat", "queued")]


def test_an_agent_that_did_not_answer_gets_no_heartbeats_and_no_verdict() -> None:
    assert bridge_events({"x-1"}, seen([row("x-1")])) == []


def test_rows_that_left_running_are_reported_by_their_status() -> None:
    ended = [row("a", "success"), row("b", "failed"), row("c", "cancelled"), row("d", "skipped"), row("e", "odd")]
    assert kinds(bridge_events({"a", "b", "c", "d", "e"}, seen([], ended))) == [
        ("execution.completed", "a"),
        ("execution.failed", "b"),
        ("execution.cancelled", "c"),
        ("execution.cancelled", "d"),
        ("execution.completed", "e"),
    ]


def test_ids_are_deterministic_so_a_restarted_bridge_repeats_them() -> None:
    known = Known(frozenset({"x-1"}))
    first = bridge_events(set(), seen([row("x-1")], bot=known))
    again = bridge_events(set(), seen([row("x-1")], bot=known))
    assert [e.event_id for e in first] == [e.event_id for e in again]
    later = bridge_events(set(), Observation(NOW + timedelta(seconds=15), 15, [row("x-1")], [], {"bot": known}))
    assert first[0].event_id == later[0].event_id  # the same start
    assert first[1].event_id != later[1].event_id  # a new heartbeat


def test_a_row_without_a_limit_of_trinitys_is_announced_without_one() -> None:
    [event] = bridge_events(set(), seen([replace(row("x-1"), timeout_s=None)]))
    assert event.timeout_seconds is None and "timeout_seconds" not in event.model_dump_json(exclude_none=True)


def test_a_row_that_ended_failed_and_now_says_success_is_reported_completed() -> None:
    statuses = {"x-1": "success", "x-2": "cancelled", "x-3": "running", "x-4": "queued"}
    rewritten = [replace(row(x), status=status) for x, status in statuses.items()]
    events = bridge_events(set(), replace(seen([]), rewritten=rewritten))
    assert kinds(events) == [("execution.completed", "x-1")]  # only a success says the watchdog was wrong


def test_progress_on_the_log_stream_is_one_activity_event_per_round_at_the_latest_entry() -> None:
    known = Known(frozenset({"busy", "quiet"}))
    entry_at = NOW - timedelta(seconds=4)
    observation = Observation(NOW, 15, [row("busy"), row("quiet")], [], {"bot": known}, progress={"busy": entry_at})
    events = bridge_events({"busy", "quiet"}, observation)
    assert kinds(events) == [
        ("execution.activity", "busy"),
        ("execution.heartbeat", "busy"),
        ("execution.heartbeat", "quiet"),
    ]
    assert events[0].occurred_at == entry_at
    again = bridge_events({"busy", "quiet"}, observation)
    assert events[0].event_id == again[0].event_id  # a restarted bridge repeats it: a duplicate
    later = Observation(NOW + timedelta(seconds=15), 15, [row("busy")], [], {"bot": known}, progress={"busy": NOW})
    assert bridge_events({"busy"}, later)[0].event_id != events[0].event_id


def test_progress_of_an_execution_no_longer_running_is_not_reported() -> None:
    observation = Observation(NOW, 15, [], [row("done", "success")], {}, progress={"done": NOW})
    assert kinds(bridge_events({"done"}, observation)) == [("execution.completed", "done")]
