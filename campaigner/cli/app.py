"""The root command, the error edge, and the options every command shares.

Library code raises `CampaignerError`s; this is the only place they become a one-line message on
stderr and an exit code (see `campaigner.errors` for the codes).
"""

from __future__ import annotations

import atexit
import gc
import importlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click

from .. import __version__
from ..config import database_url
from ..db import Database, open_database
from ..errors import CampaignerError, ValidationError

F = TypeVar("F", bound=Callable[..., Any])

# The interpreter's exit collects garbage once more, walking every object alive, most of them
# SQLAlchemy's from its import, for memory the process is about to give back whole: ~0.1 s at the
# end of every command, after its work is done. Frozen objects are left out of that walk.
atexit.register(gc.freeze)


# Each command's module, which attaches the command to `main` when imported: a command imports
# only what it uses, so that `campaigner report` or `status` from cron starts in a fraction of
# the time it takes to import the dialer, the receiver and the simulator as well.
COMMANDS = {
    "campaign": "campaign",
    "db": "database",
    "demo": "demo",
    "import": "importing",
    "report": "report",
    "run": "run",
    "serve": "serve",
    "simulate": "simulate",
    "status": "status",
    "suppress": "suppress",
    "workers": "workers",
}


class CampaignerGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            importlib.import_module(f"{__package__}.{COMMANDS[cmd_name]}")
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CampaignerError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=CampaignerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="campaigner")
def main() -> None:
    """Run bulk outbound voice-notification campaigns.

    Load contacts from a CSV file into a campaign, dial them through EnableX, Fractel or Webex
    Connect within each callee's calling hours, and report what happened.

    The database is a SQLite file (./campaigner.db unless --db or CAMPAIGNER_DB says otherwise)
    or a PostgreSQL URL.
    """


def database_option(function: F) -> F:
    """The `--db` option, shared by every command that touches the database."""
    return click.option(
        "--db",
        "db",
        metavar="PATH|URL",
        default=None,
        help="SQLite file or postgresql:// URL. [default: $CAMPAIGNER_DB, else ./campaigner.db]",
    )(function)


def config_option(holds: str) -> Callable[[F], F]:
    """The `--config` option of a command that reads `holds` from campaigner.toml."""
    return click.option(
        "--config",
        "config_file",
        metavar="FILE",
        help=f"TOML file with {holds}. "
        "[default: $CAMPAIGNER_CONFIG, else ./campaigner.toml if present]",
    )


@contextmanager
def opened_database(db: str | None, *, check: bool = True) -> Iterator[Database]:
    """Open the database named by `--db` (or its defaults) for the length of a command."""
    database = open_database(database_url(db), check=check)
    try:
        yield database
    finally:
        database.dispose()


def check_public_url(url: str) -> None:
    """--public-url: an http(s) URL with a host, the base of the callback URLs built on it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"--public-url {url!r} is not an http(s) URL with a host")
    if parts.query or parts.fragment:
        raise ValidationError(f"--public-url {url!r} must not have a query or a fragment")
