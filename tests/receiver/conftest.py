"""Fixtures for the receiver's tests: a receiver served over real HTTP on 127.0.0.1, on each
database backend, with both kinds of credentials configured."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from receiver_helpers import PASSWORD, TOKEN, USER, Receiver

from campaigner.config import Settings
from campaigner.db import Database
from campaigner.receiver import WebhookAuth, create_app, serving
from campaigner.store.attempts import Applied


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def receiver(database: Database) -> AsyncIterator[Receiver]:
    applied: list[Applied] = []
    app = create_app(
        database,
        Settings(),
        auth=WebhookAuth(TOKEN, USER, PASSWORD),
        on_applied=applied.append,
        max_body=4096,
    )
    async with serving(app) as running, httpx.AsyncClient(base_url=running.url) as client:
        yield Receiver(running.url, client, applied)
