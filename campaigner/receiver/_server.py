"""Serving the receiver inside the caller's event loop (see `_http` for the HTTP side).

`campaigner run` serves it beside the dialer and `campaigner serve` on its own; tests serve it on a
free port. The socket is bound here (port 0 picks a free one), so the bound port is known before
the first request. Signals are left to the command that owns the process: it decides what SIGINT
means, and calls `stop()`, which finishes the requests under way first.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

from ..errors import ConfigError
from ._app import ReceiverApp
from ._http import Connections

GRACEFUL_SHUTDOWN_SECONDS = 10


@dataclass
class RunningReceiver:
    """A receiver being served; `stop()` it (or use `serving`)."""

    host: str
    port: int
    _server: asyncio.Server = field(repr=False)
    _connections: Connections = field(repr=False)
    _running: AsyncExitStack = field(repr=False)
    _stopped: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        """Stop accepting, finish the requests under way, store what is queued, then return."""
        if self._stopped.is_set():
            return
        try:
            self._server.close()
            self._connections.close_idle()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(GRACEFUL_SHUTDOWN_SECONDS):
                    await self._connections.all_closed.wait()
            self._connections.abort()
            await self._running.aclose()
        finally:
            self._stopped.set()

    async def wait(self) -> None:
        """Until the server stops (after `stop()`)."""
        await self._stopped.wait()


async def start_receiver(
    app: ReceiverApp, host: str = "127.0.0.1", port: int = 0
) -> RunningReceiver:
    """Serve `app` on host:port in the running loop; returns once it listens."""
    return await start_receiver_on(app, bind(host, port), host)


async def start_receiver_on(
    app: ReceiverApp, sock: socket.socket, host: str | None = None
) -> RunningReceiver:
    """Serve `app` on a bound socket (closed if serving fails); returns once it listens. `host`
    is the name its URL shows (default: the address it is bound to)."""
    bound_host, port = sock.getsockname()[:2]
    host = host or bound_host
    running = AsyncExitStack()
    try:
        await running.enter_async_context(app.running())
        connections = Connections(app)
        server = await asyncio.get_running_loop().create_server(
            connections.protocol, sock=sock, backlog=1024
        )
    except BaseException:
        sock.close()
        await running.aclose()
        raise
    return RunningReceiver(host, port, server, connections, running)


@asynccontextmanager
async def serving(
    app: ReceiverApp, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningReceiver]:
    """`start_receiver` for the length of a block, stopped cleanly at its end."""
    running = await start_receiver(app, host, port)
    try:
        yield running
    finally:
        await running.stop()


def bind(host: str, port: int) -> socket.socket:
    """A listening socket's address taken (port 0: a free one); ConfigError if it cannot be."""
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
