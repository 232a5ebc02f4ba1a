"""The store's schema comes from migrations, and they build exactly what the models describe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from exec_watchdog.adapters import migrate
from exec_watchdog.adapters.migrate import StoreNotMigrated
from exec_watchdog.adapters.store import Store
from exec_watchdog.adapters.store_tables import metadata
from tests.paths import ROOT
from tests.services.postgres import fresh_schema


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_the_migrated_schema_is_the_models_schema(kind: str, tmp_path: Path) -> None:
    if kind == "sqlite":
        _check_schema(f"sqlite:///{tmp_path / 'm.db'}")
    else:
        with fresh_schema() as url:
            _check_schema(url)


def _check_schema(url: str) -> None:
    engine = create_engine(url)
    try:
        migrate.upgrade(engine)
        migrate.upgrade(engine)  # idempotent
        assert migrate.current(engine) == migrate.head()
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
        assert differences == []
    finally:
        engine.dispose()


def test_without_auto_migration_an_old_store_is_refused_with_the_fix(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with pytest.raises(StoreNotMigrated, match="exec-watchdog db upgrade"):
        Store(url, "g", migrate=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHDOG_")} | {
        "WATCHDOG_DATABASE_URL": url,
        "WATCHDOG_AUTO_MIGRATE": "false",
    }
    refused = subprocess.run(
        [sys.executable, "-m", "exec_watchdog", "audit", "x"], env=env, capture_output=True, text=True, cwd=ROOT
    )
    assert refused.returncode == 2 and "db upgrade" in refused.stderr
    upgraded = subprocess.run(
        [sys.executable, "-m", "exec_watchdog", "db", "upgrade"], env=env, capture_output=True, text=True, cwd=ROOT
    )
    assert upgraded.returncode == 0 and migrate.head() in upgraded.stdout
    Store(url, "g", migrate=False).close()
