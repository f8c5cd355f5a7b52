"""The simulator's HTTP face: one Starlette app, the three vendors under their own path prefixes.

POST   /enablex/voice/v1/call                 dial (EnableX)
GET    /enablex/voice/v1/call/{voice_id}      look up a live call
DELETE /enablex/voice/v1/call/{voice_id}      hang up
POST   /fractel/v2/calls                      dial (Fractel)
POST   /fractel/v2/calls/send_notify          set a FoneNumber's call callback URL
POST   /webex/v1/voice/messages               dial (Webex Connect)
GET    /_sim/ledger   GET /_sim/stats   POST /_sim/reset
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import enablex, fractel, webex
from .calls import Dialect
from .exchange import Reply

if TYPE_CHECKING:
    from .server import Simulator


def build_app(simulator: Simulator) -> Starlette:
    exchange = simulator.exchange

    def dial(dialect: Dialect) -> Callable[[Request], object]:
        async def endpoint(request: Request) -> Response:
            body = await request.body()
            return await _send(request, exchange.dial(dialect, request.headers, body), simulator)

        return endpoint

    async def enablex_call(request: Request) -> Response:
        voice_id = request.path_params["voice_id"]
        if request.method == "GET":
            reply = exchange.enablex_lookup(request.headers, voice_id)
        else:
            reply = exchange.enablex_hang_up(request.headers, voice_id)
        return await _send(request, reply, simulator)

    async def send_notify(request: Request) -> Response:
        reply = exchange.fractel_send_notify(request.headers, await request.body())
        return await _send(request, reply, simulator)

    async def ledger(_: Request) -> Response:
        return Response(json.dumps(simulator.ledger.to_dict()), media_type="application/json")

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

    return Starlette(
        routes=[
            Route(f"{enablex.PREFIX}/call", dial(enablex), methods=["POST"]),
            Route(f"{enablex.PREFIX}/call/{{voice_id}}", enablex_call, methods=["GET", "DELETE"]),
            Route(f"{fractel.PREFIX}/calls", dial(fractel), methods=["POST"]),
            Route(f"{fractel.PREFIX}/calls/send_notify", send_notify, methods=["POST"]),
            Route(f"{webex.PREFIX}/voice/messages", dial(webex), methods=["POST"]),
            Route("/_sim/ledger", ledger, methods=["GET"]),
            Route("/_sim/stats", stats, methods=["GET"]),
            Route("/_sim/reset", reset, methods=["POST"]),
        ],
        lifespan=lifespan,
    )


async def _send(request: Request, reply: Reply, simulator: Simulator) -> Response:
    if reply.hang:
        await _hold(request, simulator.closing)
        return Response(status_code=504)  # nobody is listening any more
    if reply.delay:
        await asyncio.sleep(reply.delay)
    return Response(
        reply.body,
        reply.status,
        headers=dict(reply.headers),
        media_type="application/json",
        background=BackgroundTask(_call, reply.then) if reply.then else None,
    )


async def _call(function: Callable[[], None]) -> None:
    """Run `function` on the event loop (Starlette runs plain functions in a thread)."""
    function()


async def _hold(request: Request, closing: asyncio.Event) -> None:
    """Hold a hung request until the client disconnects or the simulator shuts down."""

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    waiters = {asyncio.ensure_future(disconnected()), asyncio.ensure_future(closing.wait())}
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
