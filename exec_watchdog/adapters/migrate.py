"""Migrations of exec-watchdog's own store (Alembic), run in code: no alembic.ini to ship or find."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

_SCRIPTS = Path(__file__).resolve().parent / "migrations"
_LOCK_KEY = 7_413_250_901  # a PostgreSQL advisory lock: instances starting together migrate one at a time


class StoreNotMigrated(Exception):
    """The store's schema is behind this build and automatic migration is off."""


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    revision = ScriptDirectory.from_config(config).get_current_head()
    assert revision is not None
    return revision


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> None:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        command.upgrade(_config(conn), "head")


def require_current(engine: Engine) -> None:
    found, wanted = current(engine), head()
    if found != wanted:
        raise StoreNotMigrated(
            f"DATABASE_URL: the store is at schema revision {found or 'none'}, this build needs {wanted}; "
            "run `exec-watchdog db upgrade` (or set WATCHDOG_AUTO_MIGRATE=true)"
        )
