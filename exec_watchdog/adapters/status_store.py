"""The instances' status documents: each running instance replaces its own row; `status` reads them all."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, delete, select, update
from sqlalchemy.engine import Engine

from exec_watchdog.adapters.store_tables import instance_status


@dataclass(frozen=True, slots=True)
class StatusRow:
    instance_id: str
    written_at_us: int
    document: str


class StatusStore:
    def __init__(self, engine: Engine, group_id: str) -> None:
        self.engine = engine
        self.group_id = group_id

    def save(self, instance_id: str, written_at_us: int, document: str) -> None:
        key = and_(instance_status.c.group_id == self.group_id, instance_status.c.instance_id == instance_id)
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(instance_status).where(key).values(written_at_us=written_at_us, document=document)
            ).rowcount
            if not changed:
                conn.execute(
                    instance_status.insert().values(
                        group_id=self.group_id,
                        instance_id=instance_id,
                        written_at_us=written_at_us,
                        document=document,
                    )
                )

    def drop(self, instance_id: str) -> None:
        key = and_(instance_status.c.group_id == self.group_id, instance_status.c.instance_id == instance_id)
        with self.engine.begin() as conn:
            conn.execute(delete(instance_status).where(key))

    def all(self) -> list[StatusRow]:
        query = (
            select(instance_status.c.instance_id, instance_status.c.written_at_us, instance_status.c.document)
            .where(instance_status.c.group_id == self.group_id)
            .order_by(instance_status.c.instance_id)
        )
        with self.engine.connect() as conn:
            return [StatusRow(str(r[0]), int(r[1]), str(r[2])) for r in conn.execute(query)]
