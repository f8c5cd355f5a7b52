"""The receiver application: `POST /hooks/{provider}[/{token}]`, `GET /healthz`, and the read-only
status pages `GET /` and `GET /campaigns/{name}` (see `_status`).

A webhook is checked in this order, and nothing is recorded unless it passes them all: a provider
we speak (else 404), credentials (401), a body within the size limit (413). Then the body is stored
(see `_writer`) and the answer is a tiny 200 once it is committed, or 503 if the database refused
it, so that the provider sends it again. Follow-ups go out afterwards, in the background.

Webhooks are the hot path (thousands a second), so the HTTP server (`_http`) asks `check_webhook`
before the body and `store` after it, without building an ASGI request; Starlette serves the rest
(`/healthz`, the status pages, 404s) as `pages`.
"""

from __future__ import annotations

import asyncio
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
HOOKS = "/hooks/"


class Answer:
    """A webhook's JSON answer: its status, body and extra headers."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, body: bytes, *headers: tuple[bytes, bytes]) -> None:
        self.status = status
        self.body = body
        self.headers = headers


STORED = Answer(200, b'{"status":"stored"}')
NOT_STORED = Answer(503, b'{"error":"not stored; send it again"}')
TOO_LARGE = Answer(413, b'{"error":"body too large"}')
_POST_ONLY = Answer(405, b'{"error":"POST only"}', (b"allow", b"POST"))
_NO_PROVIDER = Answer(404, b'{"error":"no such provider"}')
_UNAUTHORIZED = Answer(
    401, b'{"error":"unauthorized"}', (b"www-authenticate", b'Basic realm="hooks"')
)


class ReceiverApp:
    """The receiver; build it with `create_app`, serve it with `start_receiver` / `serving`."""

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
        self._settings = settings
        self._auth = auth
        self._adapters = adapters
        self._on_applied = on_applied
        self._max_batch = max_batch
        self._http_client = http_client
        self._names = {provider.value: provider for provider in adapters}
        self.max_body = max_body
        self._writer: EventWriter | None = None
        status_pages = StatusPages(database, auth)
        self.pages = Starlette(
            routes=[Route("/healthz", self._healthz, methods=["GET"]), *status_pages.routes()]
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The writer and the follow-up sender, for as long as the receiver is served; on the way
        out, what is queued is stored."""
        sender = FollowUpSender(self._settings, self._adapters, self._http_client)
        on_applied = self._on_applied

        def applied(result: Applied) -> None:
            for needed in result.follow_ups:
                sender.send(needed)
            if on_applied is not None:
                on_applied(result)

        writer = EventWriter(self._database, self._adapters, applied, max_batch=self._max_batch)
        writer.start()
        self._writer = writer
        try:
            yield
        finally:
            self._writer = None
            await writer.close()
            await sender.close()

    def check_webhook(
        self, method: str, path: str, authorization: str | None, client: str
    ) -> Provider | Answer:
        """Before the body of a request under /hooks/: its provider, or the refusal to answer."""
        if method != "POST":
            return _POST_ONLY
        name, _, path_token = path[len(HOOKS) :].partition("/")
        provider = self._names.get(name)
        if provider is None or "/" in path_token:
            return _NO_PROVIDER
        if not self._auth.allows(path_token if path_token else None, authorization):
            log(
                logging.WARNING,
                "webhook.refused",
                provider=name,
                reason="credentials",
                client=client,
            )
            return _UNAUTHORIZED
        return provider

    def refuse_size(self, provider: Provider) -> Answer:
        log(logging.WARNING, "webhook.refused", provider=provider.value, reason="too large")
        return TOO_LARGE

    def store(
        self, provider: Provider, body: bytes, content_type: str | None
    ) -> asyncio.Future[None]:
        """Queue a body for storing; the future is done once it is committed (StoreFailed if it
        could not be)."""
        writer = self._writer
        if writer is None:
            failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            failed.set_exception(StoreFailed("the receiver is not running"))
            return failed
        return writer.enqueue(provider, body, content_type)

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


def _ping(database: Database) -> None:
    with database.read() as connection:
        connection.execute(text("SELECT 1"))
