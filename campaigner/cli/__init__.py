"""The `campaigner` command line. Each command group lives in its own module, imported when
its command is used (`app.COMMANDS`)."""

from .app import main

__all__ = ["main"]
