"""Alembic environment: painpath runs migrations on a connection it hands over, never from a URL.

On PostgreSQL a transaction-scoped advisory lock serialises concurrent starts of several service
processes, so only one of them applies a migration.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from painpath.store.tables import metadata

MIGRATION_LOCK_ID = 0x7061696E  # "pain": any constant shared by every painpath process

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run painpath migrations with painpath.store.migrate (a connection is required)")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    context.run_migrations()
