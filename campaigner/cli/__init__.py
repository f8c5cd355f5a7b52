"""The `campaigner` command line. Each command group lives in its own module."""

# Importing a module attaches its commands to `main`.
from . import (
    campaign,
    database,
    demo,
    importing,
    report,
    run,
    serve,
    simulate,
    status,
    suppress,
    workers,
)
from .app import main

__all__ = [
    "campaign",
    "database",
    "demo",
    "importing",
    "main",
    "report",
    "run",
    "serve",
    "simulate",
    "status",
    "suppress",
    "workers",
]
