"""Alembic environment: runs campaigner's migrations on the connection campaigner hands over.

From the `alembic` command line (for writing new revisions), the database is the one campaigner
would use: CAMPAIGNER_DB, else ./campaigner.db.
"""

from alembic import context
from sqlalchemy import Connection

from campaigner.config import database_url
from campaigner.db.engine import create_database_engine
from campaigner.db.schema import metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: batch mode recreates the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


given = context.config.attributes.get("connection")
if given is not None:
    run_migrations(given)
else:
    engine = create_database_engine(database_url())
    with engine.begin() as connection:
        run_migrations(connection)
    engine.dispose()
