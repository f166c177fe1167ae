"""Alembic environment: always handed a live connection by `engine.migrate`."""

from alembic import context

from activities.db.tables import SQLModel

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
