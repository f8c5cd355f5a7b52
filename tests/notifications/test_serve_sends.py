"""`campaigner serve` delivers the outbox too: a notification left undelivered by a run reaches
its target once serve is started with the secret."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime

from cli_helpers import add_contact
from notify_helpers import SECRET, Target, free_port, signed
from sqlalchemy import select, update
from sqlalchemy.engine import URL

from campaigner.campaigns import CampaignSettings, Message
from campaigner.db import Database
from campaigner.db.schema import contacts, notifications
from campaigner.model import MessageKind, Provider
from campaigner.notifications import notify_contacts
from campaigner.store.campaigns import create_campaign

TOKEN = "serve-test-token-0123456789"


def test_serve_sends_what_is_in_the_outbox(database_url: URL, database: Database) -> None:
    target = Target(free_port())
    settings = CampaignSettings(
        "spring",
        Provider.ENABLEX,
        "+13215550100",
        Message(MessageKind.TTS, "Hi"),
        notify_url=target.url,
    ).validate()
    with database.write() as connection:
        create_campaign(connection, settings)
    add_contact(database, "spring", "+12125550100")
    with database.write() as connection:
        connection.execute(update(contacts).values(state="delivered"))
        notify_contacts(connection, [1], datetime.now(UTC))
    target.start()
    command = [
        sys.executable,
        "-c",
        "from campaigner.cli import main; main()",
        "serve",
        "--port",
        "0",
        "--db",
        database_url.render_as_string(hide_password=False),
    ]
    env = os.environ | {"CAMPAIGNER_WEBHOOK_TOKEN": TOKEN, "CAMPAIGNER_NOTIFY_SECRET": SECRET}
    try:
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        ) as process:
            arrived = target.arrived.wait(timeout=30)
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
            errors = process.stderr.read() if process.stderr else ""
    finally:
        target.stop()
    assert arrived, errors
    assert process.returncode == 0, errors
    (item,) = target.received
    assert signed(item)
    assert json.loads(item.body)["contact"]["phone"] == "+12125550100"
    assert SECRET not in errors
    with database.read() as connection:
        (row,) = connection.execute(select(notifications)).mappings().all()
    assert row["delivered_at"] is not None
