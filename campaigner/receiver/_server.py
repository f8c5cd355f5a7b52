"""Serving the receiver with uvicorn inside the caller's event loop.

`campaigner run` serves it beside the dialer and `campaigner serve` on its own; tests serve it on a
free port. The socket is bound here (port 0 picks a free one), so the bound port is known before
the first request. uvicorn's own signal handling is left out: the command that owns the process
decides what SIGINT means, and calls `stop()`, which finishes the requests under way first.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Generator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.types import ASGIApp

from ..errors import ConfigError

GRACEFUL_SHUTDOWN_SECONDS = 10


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that tells when it listens and leaves signals to its owner."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.listening.set()


@dataclass
class RunningReceiver:
    """A receiver being served; `stop()` it (or use `serving`)."""

    host: str
    port: int
    _server: _EmbeddedServer = field(repr=False)
    _task: asyncio.Task[None] = field(repr=False)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        """Stop accepting, finish the requests under way, store what is queued, then return."""
        self._server.should_exit = True
        await self._task

    async def wait(self) -> None:
        """Until the server stops (after `stop()`, or if it fails)."""
        await asyncio.shield(self._task)


async def start_receiver(app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> RunningReceiver:
    """Serve `app` on host:port as a task of the running loop; returns once it listens."""
    sock = _bind(host, port)
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        server_header=False,
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(_serve(server, sock), name="campaigner-receiver")
    listening = asyncio.create_task(server.listening.wait())
    await asyncio.wait({task, listening}, return_when=asyncio.FIRST_COMPLETED)
    if not server.listening.is_set():
        listening.cancel()
        sock.close()
        await task  # raises what stopped it
        raise ConfigError(f"the webhook receiver stopped as it started, on {host}:{port}")
    return RunningReceiver(host, sock.getsockname()[1], server, task)


@asynccontextmanager
async def serving(
    app: ASGIApp, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningReceiver]:
    """`start_receiver` for the length of a block, stopped cleanly at its end."""
    running = await start_receiver(app, host, port)
    try:
        yield running
    finally:
        await running.stop()


async def _serve(server: _EmbeddedServer, sock: socket.socket) -> None:
    try:
        await server.serve(sockets=[sock])
    except SystemExit:  # what uvicorn does when the application fails to start
        raise ConfigError("the webhook receiver could not start (see the log)") from None


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
    # without it every keep-alive answer waits out the client's delayed ACK (about 40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock
