"""Alembic environment. Migrations always run on a connection handed over by ``store.migrate``."""

from __future__ import annotations

from alembic import context

from isthmus.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `isthmus migrate` (isthmus.store.migrate.upgrade)")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
