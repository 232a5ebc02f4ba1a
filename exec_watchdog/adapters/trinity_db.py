"""Trinity's own database (contract §5), through SQLAlchemy Core, touching only the named columns.

Marking failed is one guarded statement (`... WHERE id = ? AND status = 'running'`); zero rows
changed is a normal outcome: the row had ended (`already_finished`), is missing (`not_found`), or
already carries this very failure from an earlier attempt whose answer was lost (`ok`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    create_engine,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from exec_watchdog.adapters.platform import MarkOutcome
from exec_watchdog.adapters.trinity_time import parse_time, trinity_time

_meta = MetaData()
schedule_executions = Table(
    "schedule_executions",
    _meta,
    Column("id", String, primary_key=True),
    Column("schedule_id", String),
    Column("agent_name", String),
    Column("status", String),
    Column("started_at", String),
    Column("completed_at", String),
    Column("duration_ms", Integer),
    Column("error", Text),
)
agent_schedules = Table(
    "agent_schedules", _meta, Column("id", String, primary_key=True), Column("timeout_seconds", Float)
)
agent_ownership = Table(
    "agent_ownership",
    _meta,
    Column("agent_name", String, primary_key=True),
    Column("execution_timeout_seconds", Float),
)


@dataclass(frozen=True, slots=True)
class PlatformExecution:
    id: str
    agent_name: str
    status: str
    started_at: datetime | None
    completed_at: datetime | None
    timeout_s: float | None
    """Trinity's own limit for it (its schedule's, else its agent's), or None: the watchdog's settings apply."""


class TrinityDatabase:
    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, future=True, pool_pre_ping=True)

    def close(self) -> None:
        self.engine.dispose()

    def mark_failed_sync(self, execution_id: str, error: str, completed_at: datetime) -> MarkOutcome:
        e = schedule_executions.c
        with self.engine.begin() as conn:
            row = conn.execute(select(e.started_at).where(e.id == execution_id)).first()
            started = parse_time(row[0]) if row else None
            duration_ms = None if started is None else max(0, int((completed_at - started).total_seconds() * 1000))
            changed = conn.execute(
                update(schedule_executions)
                .where(and_(e.id == execution_id, e.status == "running"))
                .values(
                    status="failed",
                    error=error,
                    completed_at=trinity_time(completed_at),
                    duration_ms=duration_ms,
                )
            ).rowcount
            if changed:
                return "ok"
            now = conn.execute(select(e.status, e.error).where(e.id == execution_id)).first()
        if now is None:
            return "not_found"
        if now[0] == "failed" and (now[1] or "").startswith(error.split(". Cleanup: ")[0]):
            return "ok"  # our own earlier write, whose answer was lost: the same effect, not a second one
        return "already_finished"

    def executions(self, *, running: bool = True, ids: Iterable[str] = ()) -> list[PlatformExecution]:
        """Running executions, or the rows with these ids, with the limit Trinity configured for each."""
        e, s, o = schedule_executions.c, agent_schedules.c, agent_ownership.c
        query = select(
            e.id,
            e.agent_name,
            e.status,
            e.started_at,
            e.completed_at,
            s.timeout_seconds,
            o.execution_timeout_seconds,
        ).select_from(
            schedule_executions.outerjoin(agent_schedules, s.id == e.schedule_id).outerjoin(
                agent_ownership, o.agent_name == e.agent_name
            )
        )
        wanted = list(ids)
        query = query.where(e.status == "running") if running else query.where(e.id.in_(wanted))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            PlatformExecution(r[0], r[1], r[2], parse_time(r[3]), parse_time(r[4]), _limit(r[5] or r[6])) for r in rows
        ]


def _limit(seconds: float | None) -> float | None:
    return None if seconds is None else float(seconds)


class TrinityPlatform:
    """The `Platform` the effect runner uses: the guarded update, off the event loop."""

    wants_error_context = True

    def __init__(self, database: TrinityDatabase) -> None:
        self.database = database

    async def mark_failed(self, execution_id: str, error: str, completed_at: datetime) -> MarkOutcome:
        try:
            return await asyncio.to_thread(self.database.mark_failed_sync, execution_id, error, completed_at)
        except SQLAlchemyError:
            return "failed"  # the database is away: the core retries with the same command id

    async def aclose(self) -> None:
        self.database.close()
