"""Keys applied in the receiver's transaction, on both backends: responses, and the opt-out's
do-not-call entry and suppressed contacts in every campaign."""

from __future__ import annotations

from datetime import UTC, datetime

from cli_helpers import add_contact
from sqlalchemy import select

from campaigner.campaigns import CampaignSettings, Message
from campaigner.db import Database
from campaigner.db.schema import contacts, notifications, suppressions
from campaigner.model import ContactState, MessageKind, Provider
from campaigner.responses import KeyMenu
from campaigner.store.campaigns import create_campaign
from campaigner.store.responses import record_responses

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
NUMBER = "+12125550100"
MENU = KeyMenu(keys={"1": "confirmed"}, opt_out_key="9")


def make(database: Database, name: str, url: str | None = None) -> int:
    message = Message(MessageKind.TTS, "Hi")
    settings = CampaignSettings(
        name, Provider.ENABLEX, "+13215550100", message, keys=MENU, notify_url=url
    ).validate()
    with database.write() as connection:
        return create_campaign(connection, settings).id


def contact_states(database: Database) -> dict[tuple[int, str], tuple[str, str | None]]:
    with database.read() as connection:
        rows = connection.execute(
            select(contacts.c.campaign_id, contacts.c.phone, contacts.c.state, contacts.c.response)
        )
        return {(c, p): (s, r) for c, p, s, r in rows}


def test_the_opt_out_key_lists_the_number_and_suppresses_it_everywhere(
    database: Database,
) -> None:
    heard = make(database, "heard")
    waiting = make(database, "waiting", url="https://crm.test/hook")
    dialling = make(database, "dialling")
    add_contact(database, "heard", NUMBER, state=ContactState.IN_PROGRESS)
    add_contact(database, "heard", "+12125550101", state=ContactState.IN_PROGRESS)
    add_contact(database, "waiting", NUMBER)
    add_contact(database, "waiting", "+12125550101")
    add_contact(database, "dialling", NUMBER, state=ContactState.IN_PROGRESS)
    with database.read() as connection:
        ids = dict(
            connection.execute(
                select(contacts.c.phone, contacts.c.id).where(contacts.c.campaign_id == heard)
            ).all()
        )

    with database.write() as connection:
        opted_out = record_responses(
            connection, [(heard, ids[NUMBER], "9"), (heard, ids["+12125550101"], "1")], NOW
        )

    assert opted_out == [NUMBER]
    assert contact_states(database) == {
        (heard, NUMBER): ("in_progress", "opt_out"),  # its call settles it
        (heard, "+12125550101"): ("in_progress", "confirmed"),
        (waiting, NUMBER): ("suppressed", None),  # its retry will never be dialled
        (waiting, "+12125550101"): ("pending", None),
        (dialling, NUMBER): ("in_progress", None),  # the dialer withdraws it (engine)
    }
    with database.read() as connection:
        (entry,) = connection.execute(select(suppressions)).mappings().all()
        kinds = connection.execute(select(notifications.c.kind)).scalars().all()
    assert (entry["phone"], entry["campaign_id"], entry["source"]) == (NUMBER, None, "keypress")
    assert (entry["source_campaign_id"], entry["created_at"]) == (heard, NOW)
    assert "pressed the opt-out key 9 on a call of heard" in entry["reason"]
    assert kinds == ["contact.final"]  # the suppressed contact of the campaign with a URL

    with database.write() as connection:  # pressed again on a later call: nothing more to do
        assert record_responses(connection, [(heard, ids[NUMBER], "9")], NOW) == [NUMBER]
    with database.read() as connection:
        assert len(connection.execute(select(suppressions)).all()) == 1
