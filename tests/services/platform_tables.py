"""Trinity-shaped platform tables for tests, on SQLite or in a fresh PostgreSQL schema."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from exec_watchdog.adapters.trinity_time import trinity_time
from tests.services.postgres import fresh_schema

DDL = [
    """CREATE TABLE agent_schedules (id TEXT PRIMARY KEY, agent_name TEXT NOT NULL, name TEXT NOT NULL,
       timeout_seconds INTEGER)""",
    """CREATE TABLE agent_ownership (agent_name TEXT PRIMARY KEY, owner_id INTEGER NOT NULL,
       execution_timeout_seconds INTEGER)""",
    """CREATE TABLE schedule_executions (id TEXT PRIMARY KEY, schedule_id TEXT NOT NULL, agent_name TEXT NOT NULL,
       status TEXT NOT NULL, started_at TEXT NOT NULL, completed_at TEXT, duration_ms INTEGER,
       message TEXT NOT NULL, response TEXT, error TEXT, triggered_by TEXT NOT NULL)""",
]


class PlatformTables:
    def __init__(self, url: str, engine: Engine) -> None:
        self.url = url
        self.engine = engine

    def schedule(self, schedule_id: str, agent: str, timeout_s: int | None = None) -> None:
        self._run(
            "INSERT INTO agent_schedules (id, agent_name, name, timeout_seconds) VALUES (:i, :a, 'n', :t)",
            i=schedule_id,
            a=agent,
            t=timeout_s,
        )

    def agent(self, agent: str, timeout_s: int | None) -> None:
        self._run(
            "INSERT INTO agent_ownership (agent_name, owner_id, execution_timeout_seconds) VALUES (:a, 1, :t)",
            a=agent,
            t=timeout_s,
        )

    def execution(
        self,
        execution_id: str,
        agent: str,
        *,
        status: str = "running",
        age_s: float = 120,
        schedule_id: str = "none",
    ) -> None:
        started = trinity_time(datetime.now(UTC) - timedelta(seconds=age_s))  # as Trinity writes times
        self._run(
            "INSERT INTO schedule_executions (id, schedule_id, agent_name, status, started_at, message, triggered_by)"
            " VALUES (:i, :s, :a, :st, :t, 'do it', 'schedule')",
            i=execution_id,
            s=schedule_id,
            a=agent,
            st=status,
            t=started,
        )

    def set_status(self, execution_id: str, status: str) -> None:
        self._run(
            "UPDATE schedule_executions SET status = :s, completed_at = :c WHERE id = :i",
            s=status,
            c=trinity_time(datetime.now(UTC)),
            i=execution_id,
        )

    def row(self, execution_id: str) -> dict[str, object]:
        with self.engine.connect() as conn:
            found = conn.execute(
                text("SELECT * FROM schedule_executions WHERE id = :i"), {"i": execution_id}
            ).mappings()
            return dict(next(iter(found)))

    def _run(self, sql: str, **params: object) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(sql), params)


@contextmanager
def platform_tables(kind: str, tmp_path: Path) -> Iterator[PlatformTables]:
    if kind == "sqlite":
        yield _created(f"sqlite:///{tmp_path / 'platform.db'}")
        return
    with fresh_schema("trinity") as url:
        tables = _created(url)
        try:
            yield tables
        finally:
            tables.engine.dispose()


def _created(url: str) -> PlatformTables:
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in DDL:
            conn.execute(text(statement))
    return PlatformTables(url, engine)
