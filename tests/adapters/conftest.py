"""The store under test: on SQLite, and on the real PostgreSQL server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from exec_watchdog.adapters.store import Store
from tests.services.postgres import fresh_schema


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'w.db'}", group_id="g")
        yield s
        s.close()
        return
    with fresh_schema() as url:
        s = Store(url, group_id=f"g-{uuid.uuid4().hex[:8]}")
        yield s
        s.close()
