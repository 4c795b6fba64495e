"""Alembic's entry: runs the revisions on the connection service.store.migrate hands over.

No alembic.ini and no URL here: the store opens the connection (and its transaction) itself.
"""

from alembic import context

from service.store.schema import Base

context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=Base.metadata,
    # SQLite alters tables by copying them; batch mode does that for revisions that need it
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
