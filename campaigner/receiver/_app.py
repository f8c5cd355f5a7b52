"""The ASGI application: `POST /hooks/{provider}[/{token}]` and `GET /healthz`.

A webhook is checked in this order, and nothing is recorded unless it passes them all: a provider
we speak (else 404), credentials (401), a body within the size limit (413). Then the body is stored
raw (see `_writer`) and the answer is a tiny 200 once it is committed, or 503 if the database
refused it, so that the provider sends it again. Follow-ups go out afterwards, in the background.
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

from ..config import Settings
from ..db import Database
from ..model import Provider
from ..providers import ProviderAdapter, adapter_for
from ..store.attempts import Applied
from ._auth import WebhookAuth
from ._followups import FollowUpSender
from ._log import log
from ._writer import DEFAULT_MAX_BATCH, EventWriter, StoreFailed

DEFAULT_MAX_BODY = 64 * 1024

_STORED = b'{"status":"stored"}'


class _TooLarge(Exception):
    pass


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
) -> Starlette:
    """The receiver for `database`.

    `auth` defaults to the settings' [receiver] credentials; without any, ConfigError. `adapters`
    default to every provider's. `on_applied` is called on the event loop after each committed
    batch that finished attempts or needs follow-ups (the dialer frees its call slots with it);
    it must not block. Follow-ups are sent with `http_client` (default: a client of its own) and
    the provider credentials in `settings`.
    """
    auth = (auth or WebhookAuth.from_settings(settings)).check()
    adapters = dict(adapters or {provider: adapter_for(provider) for provider in Provider})
    names = {provider.value: provider for provider in adapters}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sender = FollowUpSender(settings, adapters, http_client)

        def applied(result: Applied) -> None:
            for needed in result.follow_ups:
                sender.send(needed)
            if on_applied is not None:
                on_applied(result)

        writer = EventWriter(database, adapters, applied, max_batch=max_batch)
        writer.start()
        app.state.writer = writer
        try:
            yield
        finally:
            await writer.close()
            await sender.close()

    async def webhook(request: Request) -> Response:
        provider = names.get(request.path_params["provider"])
        if provider is None:
            return _answer(404, "no such provider")
        path_token = request.path_params.get("token")
        if not auth.allows(path_token, request.headers.get("authorization")):
            log(
                logging.WARNING,
                "webhook.refused",
                provider=provider.value,
                reason="credentials",
                client=request.client.host if request.client else "?",
            )
            return _answer(401, "unauthorized", {"WWW-Authenticate": 'Basic realm="campaigner"'})
        try:
            body = await _read_body(request, max_body)
        except _TooLarge:
            log(logging.WARNING, "webhook.refused", provider=provider.value, reason="too large")
            return _answer(413, f"body over {max_body} bytes")
        writer: EventWriter = request.app.state.writer
        try:
            await writer.submit(provider, body, request.headers.get("content-type"))
        except StoreFailed:
            return _answer(503, "not stored; send it again")
        return Response(_STORED, 200, media_type="application/json")

    async def healthz(request: Request) -> Response:
        try:
            await anyio.to_thread.run_sync(_ping, database)
        except Exception as exc:
            log(logging.ERROR, "healthz.database_failed", error=type(exc).__name__)
            return JSONResponse({"status": "error", "database": "unavailable"}, 503)
        return JSONResponse({"status": "ok", "database": "ok"})

    routes = [
        Route("/hooks/{provider}", webhook, methods=["POST"]),
        Route("/hooks/{provider}/{token}", webhook, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _answer(status: int, error: str, headers: Mapping[str, str] | None = None) -> Response:
    return JSONResponse({"error": error}, status, headers=dict(headers or {}))


def _ping(database: Database) -> None:
    with database.read() as connection:
        connection.execute(text("SELECT 1"))
