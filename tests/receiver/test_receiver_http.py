"""The receiver over real HTTP, on SQLite and PostgreSQL: credentials, limits, raw storage, and
events applied whatever their order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

import httpx
import pytest
from attempts_helpers import (
    attempt,
    contact,
    enablex_play,
    enablex_state,
    event_rows,
    event_statuses,
    fractel_notification,
    later,
    make_campaign,
    make_contact,
    start_attempt,
    webex_receipt,
)
from receiver_helpers import PASSWORD, TOKEN, USER, Receiver
from sqlalchemy import text

from campaigner.config import Settings
from campaigner.db import Database
from campaigner.model import Outcome, Provider
from campaigner.providers import Accepted, WebexAdapter, WebhookResult
from campaigner.receiver import WebhookAuth, create_app, serving
from campaigner.store.attempts import record_dial_answers

pytestmark = pytest.mark.anyio

BODY = enablex_state("voice-1", "ringing")


async def test_a_webhook_with_the_token_in_its_path_is_stored(
    database: Database, receiver: Receiver
) -> None:
    response = await receiver.post(Provider.ENABLEX, BODY)
    assert (response.status_code, response.json()) == (200, {"status": "stored"})
    (row,) = event_rows(database)
    assert (row["provider"], bytes(row["body"]), row["content_type"]) == (
        "enablex",
        BODY,
        "application/json",
    )


async def test_a_webhook_with_http_basic_is_stored(database: Database, receiver: Receiver) -> None:
    response = await receiver.post(Provider.WEBEX, BODY, token=None, auth=(USER, PASSWORD))
    assert response.status_code == 200
    assert len(event_rows(database)) == 1


@pytest.mark.parametrize(
    ("token", "auth"),
    [
        pytest.param(TOKEN[:-1] + "x", None, id="wrong-token"),
        pytest.param(None, None, id="no-credentials"),
        pytest.param(None, (USER, "wrong"), id="wrong-password"),
        pytest.param(None, ("someone", PASSWORD), id="wrong-user"),
        pytest.param(TOKEN + "x", (USER, PASSWORD), id="wrong-token-right-basic"),
    ],
)
async def test_without_valid_credentials_nothing_is_recorded(
    database: Database,
    receiver: Receiver,
    token: str | None,
    auth: tuple[str, str] | None,
) -> None:
    response = await receiver.post(Provider.ENABLEX, BODY, token=token, auth=auth)
    assert response.status_code == 401
    assert event_rows(database) == []


async def test_refusals_record_nothing(database: Database, receiver: Receiver) -> None:
    unknown = await receiver.post("twilio", BODY)
    too_large = await receiver.post(Provider.ENABLEX, b"{" + b" " * 4096 + b"}")

    async def chunked() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b" " * 1000

    streamed = await receiver.client.post(f"/hooks/enablex/{TOKEN}", content=chunked())
    wrong_method = await receiver.client.get(f"/hooks/enablex/{TOKEN}")
    assert [r.status_code for r in (unknown, too_large, streamed, wrong_method)] == [
        404,
        413,
        413,
        405,
    ]
    assert event_rows(database) == []


async def test_healthz_checks_the_database(receiver: Receiver) -> None:
    response = await receiver.client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok", "database": "ok"})


async def test_a_body_that_cannot_be_read_is_kept_as_received(
    database: Database, receiver: Receiver
) -> None:
    body = b"state=ringing&\xff\xfe"
    response = await receiver.post(
        Provider.WEBEX, body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 200
    (row,) = event_rows(database)
    assert (row["status"], bytes(row["body"])) == ("unparseable", body)


async def test_when_the_database_refuses_the_provider_is_told_to_send_again(
    database: Database, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    with database.write() as connection:
        connection.execute(text("DROP TABLE events"))
    response = await receiver.post(Provider.ENABLEX, BODY)
    assert response.status_code == 503
    assert "webhooks.store_failed" in caplog.text


async def test_events_in_any_order_and_twice_end_in_one_delivered_call(
    database: Database, receiver: Receiver
) -> None:
    contact_id = make_contact(database, make_campaign(database))
    attempt_id, key = start_attempt(database, contact_id)
    with database.write() as connection:
        record_dial_answers(connection, [(attempt_id, Accepted("voice-1"))], later(1))
    bodies = [
        enablex_play("voice-1", "playfinished", key),
        enablex_state("voice-1", "connected", key),
        enablex_state("voice-1", "ringing", key),
        enablex_play("voice-1", "playfinished", key),
        enablex_state("voice-1", "disconnected", key, disconnect_reason="Normal Clearing"),
    ]
    for body in bodies:
        assert (await receiver.post(Provider.ENABLEX, body)).status_code == 200
    row = attempt(database, attempt_id)
    assert (row["outcome"], row["progress"]) == ("delivered", "ended")
    assert contact(database, contact_id)["state"] == "delivered"
    # playfinished already proved the answer: connected and ringing add nothing.
    assert event_statuses(database) == ["applied", "duplicate", "duplicate", "duplicate", "applied"]
    finished = [item for applied in receiver.applied for item in applied.finished]
    assert [(item.attempt_id, item.outcome) for item in finished] == [
        (attempt_id, Outcome.DELIVERED)
    ]


async def test_an_orphan_waits_for_its_dial_answer(database: Database, receiver: Receiver) -> None:
    """A fast provider's webhook can beat the dialer's record of the call id."""
    contact_id = make_contact(database, make_campaign(database, Provider.FRACTEL))
    attempt_id, _ = start_attempt(database, contact_id, Provider.FRACTEL)
    response = await receiver.post(Provider.FRACTEL, fractel_notification("uid-5", "END", "BUSY"))
    assert response.status_code == 200
    assert event_statuses(database) == ["orphan"]
    with database.write() as connection:
        applied = record_dial_answers(connection, [(attempt_id, Accepted("uid-5"))], later(1))
    assert [item.outcome for item in applied.finished] == [Outcome.BUSY]
    assert event_statuses(database) == ["applied"]
    assert contact(database, contact_id)["state"] == "pending"


async def test_many_webhooks_at_once_are_all_stored(database: Database, receiver: Receiver) -> None:
    campaign_id = make_campaign(database, Provider.WEBEX)
    keys = []
    for number in range(40):
        _, key = start_attempt(
            database, make_contact(database, campaign_id, f"+1202555{number:04d}"), Provider.WEBEX
        )
        keys.append(key)
    bodies = [
        webex_receipt(f"msg-{i}", status, key)
        for status in ("ANSWERED", "RELEASED")
        for i, key in enumerate(keys)
    ]
    responses = await asyncio.gather(*(receiver.post(Provider.WEBEX, body) for body in bodies))
    assert {response.status_code for response in responses} == {200}
    assert len(event_rows(database)) == 80
    finished = {item.attempt_id for applied in receiver.applied for item in applied.finished}
    assert len(finished) == 40


class _BrokenWebex(WebexAdapter):
    """An adapter with a bug: it raises where it must not."""

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookResult:
        raise RuntimeError("bug")


async def test_a_body_is_kept_even_when_applying_it_fails(database: Database) -> None:
    app = create_app(
        database,
        Settings(),
        auth=WebhookAuth(token=TOKEN),
        adapters={Provider.WEBEX: _BrokenWebex()},
    )
    body = webex_receipt("msg-1", "ANSWERED")
    async with serving(app) as running, httpx.AsyncClient(base_url=running.url) as client:
        response = await client.post(f"/hooks/webex/{TOKEN}", content=body)
    assert response.status_code == 200
    (row,) = event_rows(database)
    assert (row["status"], bytes(row["body"])) == ("received", body)
