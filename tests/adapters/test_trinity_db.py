"""Trinity's schema on SQLite and on the real PostgreSQL server: guarded marking, effective timeouts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from exec_watchdog.adapters.trinity_db import TrinityDatabase
from exec_watchdog.adapters.trinity_time import parse_time, trinity_time
from tests.services.platform_tables import PlatformTables, platform_tables

ERROR = "Execution completed on agent but status not reported — recovered by watchdog"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def tables(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PlatformTables]:
    with platform_tables(request.param, tmp_path) as t:
        yield t


def test_marking_failed_is_one_guarded_update(tables: PlatformTables) -> None:
    tables.execution("x-1", "bot", age_s=90)
    db = TrinityDatabase(tables.url)
    assert db.mark_failed_sync("x-1", ERROR, datetime.now(UTC)) == "ok"
    row = tables.row("x-1")
    assert row["status"] == "failed" and row["error"] == ERROR
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", str(row["completed_at"]))  # Trinity's own format
    assert 89_000 <= int(row["duration_ms"]) <= 95_000  # type: ignore[call-overload]
    db.close()


def test_an_ended_row_is_left_alone_and_reported_already_finished(tables: PlatformTables) -> None:
    tables.execution("x-2", "bot", status="success")
    db = TrinityDatabase(tables.url)
    assert db.mark_failed_sync("x-2", ERROR, datetime.now(UTC)) == "already_finished"
    assert tables.row("x-2")["status"] == "success" and tables.row("x-2")["error"] is None
    assert db.mark_failed_sync("missing", ERROR, datetime.now(UTC)) == "not_found"
    db.close()


def test_repeating_our_own_mark_is_recognised_not_reported_as_someone_elses(tables: PlatformTables) -> None:
    tables.execution("x-3", "bot")
    db = TrinityDatabase(tables.url)
    assert db.mark_failed_sync("x-3", f"{ERROR}. Cleanup: killed", datetime.now(UTC)) == "ok"
    assert db.mark_failed_sync("x-3", ERROR, datetime.now(UTC)) == "ok"  # the answer was lost; same effect
    tables.execution("x-4", "bot", status="failed")  # failed by the platform itself, with another error
    assert db.mark_failed_sync("x-4", ERROR, datetime.now(UTC)) == "already_finished"
    db.close()


def test_the_limit_is_the_schedules_then_the_agents_else_none_so_the_watchdogs_settings_apply(
    tables: PlatformTables,
) -> None:
    tables.schedule("s-fast", "bot", timeout_s=300)
    tables.schedule("s-plain", "bot", timeout_s=None)
    tables.agent("bot", 900)
    tables.execution("by-schedule", "bot", schedule_id="s-fast")
    tables.execution("by-agent", "bot", schedule_id="s-plain")
    tables.execution("by-default", "other-bot", schedule_id="s-none")
    tables.execution("finished", "bot", status="success")
    db = TrinityDatabase(tables.url)
    running = {e.id: e.timeout_s for e in db.executions()}
    assert running == {"by-schedule": 300, "by-agent": 900, "by-default": None}
    [finished] = db.executions(running=False, ids=["finished"])
    assert finished.status == "success" and finished.started_at is not None
    db.close()


def test_times_are_written_as_trinity_writes_them_and_compare_as_text() -> None:
    assert trinity_time(datetime(2026, 12, 2, 0, 47, 12, tzinfo=UTC)) == "2026-12-02T00:47:12.000000Z"
    plus_two = timezone(timedelta(hours=2))
    assert trinity_time(datetime(2026, 12, 2, 2, 47, 12, 708513, tzinfo=plus_two)) == "2026-12-02T00:47:12.708513Z"
    assert trinity_time(datetime(2026, 12, 2, 0, 47, 12)) == "2026-12-02T00:47:12.000000Z"  # naive: UTC
    earlier, later = datetime(2026, 12, 2, 0, 47, 12, tzinfo=UTC), datetime(2026, 12, 2, 0, 47, 12, 5, tzinfo=UTC)
    assert trinity_time(earlier) < trinity_time(later)  # Trinity's cut-offs compare the text
    assert parse_time(trinity_time(later)) == later
