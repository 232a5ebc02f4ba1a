"""An incremental snapshot's rows in the store: one per execution, written when it changed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
from sqlalchemy import Text, and_, cast, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from exec_watchdog.adapters.snapshots import Changes, RowChunk
from exec_watchdog.adapters.store_tables import partition_records

Key = tuple[str, str, int]
"""(group id, topic, partition)."""
_r = partition_records.c
_decode_ints = msgspec.json.Decoder(list[int]).decode


def _where(key: Key) -> Any:
    group_id, topic, partition = key
    return and_(_r.group_id == group_id, _r.topic == topic, _r.partition == partition)


def write(conn: Connection, key: Key, changes: Changes) -> None:
    """The changed rows upserted, the forgotten ones deleted (every stored row replaced when `full`)."""
    if changes.full:
        conn.execute(delete(partition_records).where(_where(key)))
    gone = [x for x, row in changes.rows.items() if row is None]
    for start in range(0, len(gone), 500):
        conn.execute(delete(partition_records).where(_where(key), _r.execution_id.in_(gone[start : start + 500])))
    group_id, topic, partition = key
    shifted = changes.shifted
    if conn.dialect.name == "sqlite":  # positional rows straight to the driver: no per-row processing
        values = [(group_id, topic, partition, x, row, shifted) for x, row in changes.rows.items() if row is not None]
        if values:
            conn.exec_driver_sql(_SQLITE_UPSERT, values)
        return
    common = {"group_id": group_id, "topic": topic, "partition": partition, "shifted": shifted}
    rows = [{**common, "execution_id": x, "row": row} for x, row in changes.rows.items() if row is not None]
    if rows:
        conn.execute(_POSTGRES_UPSERT, rows)


def _upsert(insert: Any) -> Any:
    keys = ["group_id", "topic", "partition", "execution_id"]
    return insert.on_conflict_do_update(
        index_elements=keys, set_={"row": insert.excluded.row, "shifted": insert.excluded.shifted}
    )


_POSTGRES_UPSERT = _upsert(postgresql.insert(partition_records))
_SQLITE_UPSERT = str(_upsert(sqlite.insert(partition_records)).compile(dialect=sqlite.dialect()))
"""The same upsert for SQLite, its parameters in the table's column order (`?` placeholders)."""


def read(conn: Connection, key: Key) -> Iterator[tuple[str, int]]:
    """`(row, shifted)` of every stored row by execution id, streamed (a checkpoint's)."""
    query = select(_r.row, _r.shifted).where(_where(key)).order_by(_r.execution_id)
    for row, shifted in conn.execute(query.execution_options(yield_per=10_000)):
        yield str(row), int(shifted)


def read_chunks(conn: Connection, key: Key, chunk: int = 10_000) -> Iterator[RowChunk]:
    """Every stored row, `chunk` at a time by execution id, each chunk joined in the database (one
    value per chunk crosses into Python instead of a tuple per row: a restore of a million rows
    costs the interpreter a few dozen fetches, not a million)."""
    joined = func.group_concat if conn.dialect.name == "sqlite" else func.string_agg
    after = ""
    while True:
        page = (
            select(_r.execution_id, _r.row, _r.shifted)
            .where(_where(key), _r.execution_id > after)
            .order_by(_r.execution_id)
            .limit(chunk)
            .subquery()
        )
        rows, shifts, last, count = conn.execute(
            select(
                joined(page.c.row, ","),
                joined(cast(page.c.shifted, Text), ","),
                func.max(page.c.execution_id),
                func.count(),
            )
        ).one()
        if not count:
            return
        yield RowChunk(rows, _decode_ints(f"[{shifts}]"))
        if count < chunk:
            return
        after = last
