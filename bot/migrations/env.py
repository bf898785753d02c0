"""Alembic's entry point: runs the revisions on the connection `bot.db.Database.upgrade` hands over
(inside its lock), so there is no alembic.ini and no second connection."""

from alembic import context

context.configure(connection=context.config.attributes["connection"])
with context.begin_transaction():
    context.run_migrations()
