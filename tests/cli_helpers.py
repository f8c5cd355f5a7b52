"""What the CLI tests share: running a command against a test database, and placing contacts
in a campaign directly (the importer has tests of its own)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from click.testing import CliRunner, Result
from db_helpers import db_option
from sqlalchemy import insert, select
from sqlalchemy.engine import URL

from campaigner.cli import main
from campaigner.db import Database
from campaigner.db.schema import campaigns, contacts
from campaigner.model import ContactState, TimezoneSource

CREATED = datetime(2026, 3, 1, tzinfo=UTC)


def run(url: URL, *args: str) -> Result:
    """`campaigner ARGS --db URL`, as a user would type it."""
    return CliRunner().invoke(main, [*args, "--db", db_option(url)], catch_exceptions=False)


def add_contact(
    database: Database,
    campaign: str,
    phone: str,
    *,
    state: ContactState = ContactState.PENDING,
    timezone: str = "America/New_York",
    source: TimezoneSource = TimezoneSource.NUMBER,
    fields: Mapping[str, str] | None = None,
    next_attempt_at: datetime | None = None,
) -> None:
    with database.write() as connection:
        campaign_id = connection.execute(
            select(campaigns.c.id).where(campaigns.c.name == campaign)
        ).scalar_one()
        connection.execute(
            insert(contacts).values(
                campaign_id=campaign_id,
                phone=phone,
                phone_raw=phone,
                fields=dict(fields or {}),
                timezone=timezone,
                timezone_source=source.value,
                state=state.value,
                next_attempt_at=next_attempt_at,
                created_at=CREATED,
                updated_at=CREATED,
            )
        )


def states(database: Database, campaign: str) -> dict[str, str]:
    """Each contact's phone and state."""
    with database.read() as connection:
        rows = connection.execute(
            select(contacts.c.phone, contacts.c.state)
            .join(campaigns, campaigns.c.id == contacts.c.campaign_id)
            .where(campaigns.c.name == campaign)
        )
        return dict(rows.all())
