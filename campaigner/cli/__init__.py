"""The `campaigner` command line. Each command group lives in its own module."""

from . import database
from .app import main

__all__ = ["main"]

# Registering the groups: importing a module attaches its commands to `main`.
del database
