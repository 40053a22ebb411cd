"""Alembic migrations of the painpath database (applied by ``painpath.store.migrate``)."""
