"""A fresh PostgreSQL schema per test on the server at 127.0.0.1:5432, dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text

from tests.services.require import postgres_server


@contextmanager
def fresh_schema(prefix: str = "wd") -> Iterator[str]:
    """Yields a URL whose connections work in a new, empty schema."""
    server = postgres_server()
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{server}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
