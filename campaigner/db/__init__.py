"""The database: connecting to SQLite or PostgreSQL, and keeping its schema up to date."""

from .engine import Database, open_database
from .migrate import check_schema, downgrade, head_revision, upgrade

__all__ = ["Database", "check_schema", "downgrade", "head_revision", "open_database", "upgrade"]
