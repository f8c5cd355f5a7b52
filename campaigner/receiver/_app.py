"""The ASGI application: `POST /hooks/{provider}[/{token}]`, `GET /healthz`, and the read-only
status pages `GET /` and `GET /campaigns/{name}` (see `_status`).

A webhook is checked in this order, and nothing is recorded unless it passes them all: a provider
we speak (else 404), credentials (401), a body within the size limit (413). Then the body is stored
(see `_writer`) and the answer is a tiny 200 once it is committed, or 503 if the database refused
it, so that the provider sends it again. Follow-ups go out afterwards, in the background.

Webhooks are the hot path (thousands a second), so they are answered by plain ASGI code that reads
the few headers it needs straight from the scope; Starlette serves the rest (`/healthz`, 404s)
and runs the lifespan that starts and stops the writer.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager

import anyio.to_thread
import httpx
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ..config import Settings
from ..db import Database
from ..model import Provider
from ..providers import ProviderAdapter, adapter_for
from ..store.attempts import Applied
from ._auth import WebhookAuth
from ._followups import FollowUpSender
from ._log import log
from ._status import StatusPages
from ._writer import DEFAULT_MAX_BATCH, EventWriter, StoreFailed

DEFAULT_MAX_BODY = 64 * 1024
_HOOKS = "/hooks/"


class _TooLarge(Exception):
    pass


class _Gone(Exception):
    """The client hung up before sending the whole body."""


class ReceiverApp:
    """The receiver as an ASGI application; build it with `create_app`."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        auth: WebhookAuth,
        adapters: Mapping[Provider, ProviderAdapter],
        on_applied: Callable[[Applied], None] | None,
        max_body: int,
        max_batch: int,
        http_client: httpx.AsyncClient | None,
    ) -> None:
        self._database = database
        self._auth = auth
        self._names = {provider.value: provider for provider in adapters}
        self._max_body = max_body
        self._writer: EventWriter | None = None

        @asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            sender = FollowUpSender(settings, adapters, http_client)

            def applied(result: Applied) -> None:
                for needed in result.follow_ups:
                    sender.send(needed)
                if on_applied is not None:
                    on_applied(result)

            writer = EventWriter(database, adapters, applied, max_batch=max_batch)
            writer.start()
            self._writer = writer
            try:
                yield
            finally:
                self._writer = None
                await writer.close()
                await sender.close()

        pages = StatusPages(database, auth)
        self._rest = Starlette(
            routes=[Route("/healthz", self._healthz, methods=["GET"]), *pages.routes()],
            lifespan=lifespan,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(_HOOKS):
            status, answer, headers = await self._webhook(scope, receive)
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(answer)).encode()),
                        *headers,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": answer})
        else:
            await self._rest(scope, receive, send)

    async def _webhook(
        self, scope: Scope, receive: Receive
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        """(status, JSON body, extra headers) of the answer to a request under /hooks/."""
        if scope["method"] != "POST":
            return 405, b'{"error":"POST only"}', [(b"allow", b"POST")]
        name, _, path_token = scope["path"][len(_HOOKS) :].partition("/")
        provider = self._names.get(name)
        if provider is None or "/" in path_token:
            return 404, b'{"error":"no such provider"}', []
        authorization = content_type = length = None
        for key, value in scope["headers"]:
            if key == b"authorization":
                authorization = value.decode("latin-1")
            elif key == b"content-type":
                content_type = value.decode("latin-1")
            elif key == b"content-length":
                length = value
        if not self._auth.allows(path_token if path_token else None, authorization):
            client = scope.get("client")
            log(
                logging.WARNING,
                "webhook.refused",
                provider=name,
                reason="credentials",
                client=client[0] if client else "?",
            )
            return 401, b'{"error":"unauthorized"}', [(b"www-authenticate", b'Basic realm="hooks"')]
        try:
            body = await _read_body(receive, length, self._max_body)
        except _TooLarge:
            log(logging.WARNING, "webhook.refused", provider=name, reason="too large")
            return 413, b'{"error":"body too large"}', []
        except _Gone:  # nobody is left to answer; a partial body is not stored
            return 400, b'{"error":"incomplete body"}', []
        writer = self._writer
        try:
            if writer is None:
                raise StoreFailed("the receiver is not running")
            await writer.submit(provider, body, content_type)
        except StoreFailed:
            return 503, b'{"error":"not stored; send it again"}', []
        return 200, b'{"status":"stored"}', []

    async def _healthz(self, request: Request) -> Response:
        try:
            await anyio.to_thread.run_sync(_ping, self._database)
        except Exception as exc:
            log(logging.ERROR, "healthz.database_failed", error=type(exc).__name__)
            return JSONResponse({"status": "error", "database": "unavailable"}, 503)
        return JSONResponse({"status": "ok", "database": "ok"})


def create_app(
    database: Database,
    settings: Settings,
    *,
    auth: WebhookAuth | None = None,
    adapters: Mapping[Provider, ProviderAdapter] | None = None,
    on_applied: Callable[[Applied], None] | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    max_batch: int = DEFAULT_MAX_BATCH,
    http_client: httpx.AsyncClient | None = None,
) -> ReceiverApp:
    """The receiver for `database`.

    `auth` defaults to the settings' [receiver] credentials; without any, ConfigError. `adapters`
    default to every provider's. `on_applied` is called on the event loop after each committed
    batch that finished attempts or needs follow-ups (the dialer frees its call slots with it);
    it must not block. Follow-ups are sent with `http_client` (default: a client of its own) and
    the provider credentials in `settings`.
    """
    return ReceiverApp(
        database,
        settings,
        (auth or WebhookAuth.from_settings(settings)).check(),
        dict(adapters or {provider: adapter_for(provider) for provider in Provider}),
        on_applied,
        max_body,
        max_batch,
        http_client,
    )


async def _read_body(receive: Receive, declared: bytes | None, limit: int) -> bytes:
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _Gone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _ping(database: Database) -> None:
    with database.read() as connection:
        connection.execute(text("SELECT 1"))
