"""The simulator's HTTP face: one ASGI app, the three vendors under their own path prefixes.

POST   /enablex/voice/v1/call                 dial (EnableX)
GET    /enablex/voice/v1/call/{voice_id}      look up a live call
DELETE /enablex/voice/v1/call/{voice_id}      hang up
PUT    /enablex/voice/v1/call/{voice_id}/play play the message again, waiting for a key
POST   /fractel/v2/calls                      dial (Fractel)
POST   /fractel/v2/calls/send_notify          set a FoneNumber's call callback URL
POST   /webex/v1/voice/messages               dial (Webex Connect)
GET    /_sim/ledger (?webhooks=0: without them)   GET /_sim/stats   POST /_sim/reset

The three dial endpoints, the hot path of every benchmark, are plain ASGI in front of Starlette:
its routing and request objects cost more than the simulated vendor's own work.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from . import enablex, fractel, webex
from .arrival import arrival_of
from .calls import Dialect
from .exchange import Reply

if TYPE_CHECKING:
    from .server import Simulator


def build_app(simulator: Simulator) -> ASGIApp:
    exchange = simulator.exchange

    async def enablex_call(request: Request) -> Response:
        voice_id = request.path_params["voice_id"]
        if request.method == "GET":
            return await _send(exchange.enablex_lookup(request.headers, voice_id))
        return await _send(exchange.enablex_hang_up(request.headers, voice_id))

    async def enablex_play(request: Request) -> Response:
        voice_id = request.path_params["voice_id"]
        return await _send(exchange.enablex_play(request.headers, voice_id, await request.body()))

    async def send_notify(request: Request) -> Response:
        return await _send(exchange.fractel_send_notify(request.headers, await request.body()))

    async def ledger(request: Request) -> Response:
        webhooks = request.query_params.get("webhooks", "1") not in ("0", "false", "no")
        document = simulator.ledger.to_dict(webhooks=webhooks)
        return Response(json.dumps(document), media_type="application/json")

    async def stats(_: Request) -> Response:
        return JSONResponse(simulator.ledger.summary())

    async def reset(_: Request) -> Response:
        await exchange.reset()
        return JSONResponse({"reset": True})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        simulator.started(asyncio.get_running_loop())
        try:
            yield
        finally:
            await exchange.close()

    rest = Starlette(
        routes=[
            Route(f"{enablex.PREFIX}/call/{{voice_id}}", enablex_call, methods=["GET", "DELETE"]),
            Route(f"{enablex.PREFIX}/call/{{voice_id}}/play", enablex_play, methods=["PUT"]),
            Route(f"{fractel.PREFIX}/calls/send_notify", send_notify, methods=["POST"]),
            Route("/_sim/ledger", ledger, methods=["GET"]),
            Route("/_sim/stats", stats, methods=["GET"]),
            Route("/_sim/reset", reset, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    dialects: dict[str, Dialect] = {
        f"{enablex.PREFIX}/call": enablex,
        f"{fractel.PREFIX}/calls": fractel,
        f"{webex.PREFIX}/voice/messages": webex,
    }

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        dialect = dialects.get(scope["path"]) if scope["type"] == "http" else None
        if dialect is None or scope["method"] != "POST":
            await rest(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        reply = exchange.dial(
            dialect, Headers(scope=scope), b"".join(chunks), arrived_at=arrival_of(scope)
        )
        if reply.hang:
            await _hold(receive, simulator.closing)
            return
        if reply.delay:
            await asyncio.sleep(reply.delay)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(reply.body)).encode()),
            *((name.lower().encode(), value.encode()) for name, value in reply.headers.items()),
        ]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})
        if reply.then:
            reply.then()

    return app


async def _send(reply: Reply) -> Response:
    """A Starlette answer, for the endpoints other than dialing (they neither hang nor play out)."""
    if reply.delay:
        await asyncio.sleep(reply.delay)
    return Response(reply.body, reply.status, dict(reply.headers), media_type="application/json")


async def _hold(receive: Receive, closing: asyncio.Event) -> None:
    """Hold a hung request until the client disconnects or the simulator shuts down."""

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    waiters = {asyncio.ensure_future(disconnected()), asyncio.ensure_future(closing.wait())}
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
