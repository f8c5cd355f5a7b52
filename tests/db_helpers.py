"""Helpers for tests that hand a database to the CLI.

Kept out of conftest.py: a test module importing `conftest` by name gets whichever of the several
conftest.py files was imported first.
"""

from __future__ import annotations

from sqlalchemy.engine import URL


def db_option(url: URL) -> str:
    """The `--db` value for a CLI test."""
    return url.render_as_string(hide_password=False)
