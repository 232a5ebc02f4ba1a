"""Alembic environment: the connection comes from `adapters.migrate`, the models from `store_tables`."""

from __future__ import annotations

from alembic import context

from exec_watchdog.adapters.store_tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
