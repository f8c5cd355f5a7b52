"""EnableX keeps a call up after the message: the receiver hangs up with DELETE /call/{voice_id},
after answering the webhook, and tries again when EnableX fails. A tiny EnableX stands in."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import anyio
import httpx
import pytest
import uvicorn
from attempts_helpers import (
    enablex_play,
    enablex_state,
    later,
    make_campaign,
    make_contact,
    start_attempt,
)
from receiver_helpers import TOKEN
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from campaigner.config import Settings
from campaigner.db import Database
from campaigner.providers import Accepted
from campaigner.receiver import WebhookAuth, create_app, serving
from campaigner.simulator.server import bind
from campaigner.store.attempts import record_dial_answers

pytestmark = pytest.mark.anyio

APP_ID, APP_KEY = "app-1", "key-1"


@dataclass
class FakeEnableX:
    """Answers DELETE /voice/v1/call/{voice_id} with the statuses given, then 200."""

    statuses: list[int] = field(default_factory=list)
    hang_ups: list[tuple[str, str | None]] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int = 1

    async def hang_up(self, request: Request) -> Response:
        self.hang_ups.append(
            (request.path_params["voice_id"], request.headers.get("authorization"))
        )
        if len(self.hang_ups) >= self.expected:
            self.done.set()
        status = self.statuses.pop(0) if self.statuses else 200
        return JSONResponse({"state": "disconnected"}, status)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def enablex() -> AsyncIterator[tuple[FakeEnableX, str]]:
    fake = FakeEnableX()
    app = Starlette(routes=[Route("/voice/v1/call/{voice_id}", fake.hang_up, methods=["DELETE"])])
    sock = bind(0)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="warning"))
    serving_fake = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield fake, f"http://127.0.0.1:{sock.getsockname()[1]}/voice/v1"
    finally:
        server.should_exit = True
        await serving_fake
        sock.close()


async def _play_to_the_end(database: Database, base_url: str, *bodies: bytes) -> list[int]:
    settings = Settings(
        values={
            ("enablex", "app_id"): APP_ID,
            ("enablex", "app_key"): APP_KEY,
            ("enablex", "base_url"): base_url,
        }
    )
    app = create_app(database, settings, auth=WebhookAuth(token=TOKEN))
    async with serving(app) as running, httpx.AsyncClient(base_url=running.url) as client:
        return [
            (await client.post(f"/hooks/enablex/{TOKEN}", content=body)).status_code
            for body in bodies
        ]


async def test_the_receiver_hangs_up_once_the_message_has_played(
    database: Database, enablex: tuple[FakeEnableX, str]
) -> None:
    fake, base_url = enablex
    attempt_id, _ = start_attempt(database, make_contact(database, make_campaign(database)))
    with database.write() as connection:
        record_dial_answers(connection, [(attempt_id, Accepted("voice-7"))], later(1))
    body = enablex_play("voice-7", "playfinished")
    statuses = await _play_to_the_end(
        database, base_url, enablex_state("voice-7", "connected"), body, body
    )
    with anyio.fail_after(10):
        await fake.done.wait()
    assert statuses == [200, 200, 200]
    # Once: the repeated playfinished changed nothing and asked for nothing.
    assert [voice_id for voice_id, _ in fake.hang_ups] == ["voice-7"]
    assert (
        fake.hang_ups[0][1] == "Basic " + base64.b64encode(f"{APP_ID}:{APP_KEY}".encode()).decode()
    )


async def test_a_failed_hang_up_is_tried_again(
    database: Database, enablex: tuple[FakeEnableX, str]
) -> None:
    fake, base_url = enablex
    fake.statuses = [503]
    fake.expected = 2
    attempt_id, _ = start_attempt(database, make_contact(database, make_campaign(database)))
    with database.write() as connection:
        record_dial_answers(connection, [(attempt_id, Accepted("voice-8"))], later(1))
    await _play_to_the_end(database, base_url, enablex_play("voice-8", "playfinished"))
    with anyio.fail_after(10):
        await fake.done.wait()
    assert [voice_id for voice_id, _ in fake.hang_ups] == ["voice-8", "voice-8"]
