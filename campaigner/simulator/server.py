"""Running a simulator: a `Simulator` (config, ledger, faults, app) served by uvicorn on 127.0.0.1.

    with running_simulator(config) as sim:        # a background thread: for synchronous code
        sim.base_url("enablex")                   # http://127.0.0.1:PORT/enablex/voice/v1
        sim.ledger.wait_until(lambda ledger: len(ledger.webhooks) >= 4)

    async with serving_simulator(config) as sim:  # a task on the current event loop
        await sim.ledger.until(lambda ledger: ...)

Port 0 (the default) takes a free port. The socket is bound and listening before the context is
entered, so the first request may be sent at once. Nothing but 127.0.0.1 is ever bound.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import uvicorn

from . import enablex, fractel, webex
from .app import build_app
from .arrival import ArrivalStamping
from .config import SimulatorConfig
from .exchange import Exchange
from .faults import FaultInjector
from .ledger import Ledger

HOST = "127.0.0.1"
DEFAULT_PORT = 8787
_PREFIXES = {
    enablex.PROVIDER: enablex.PREFIX,
    fractel.PROVIDER: fractel.PREFIX,
    webex.PROVIDER: webex.PREFIX,
}

try:
    import uvloop

    _loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
    _loop_factory = None


class Simulator:
    """One fake of all three providers: its configuration, ledger, fault injector and app."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.ledger = Ledger()
        self.faults = FaultInjector(self.config.faults, self.config.behaviour.seed)
        self.exchange = Exchange(self.config, self.ledger, self.faults)
        self.closing = asyncio.Event()
        self.app = build_app(self)
        self.port = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._started = asyncio.Event()

    def started(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called by the app's lifespan, on the server's loop, once it is up."""
        self.loop = loop
        self._ready.set()
        self._started.set()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def base_url(self, provider: str) -> str:
        """The base URL a provider adapter should use: the vendor's own path on this server."""
        return f"{self.url}{_PREFIXES[provider]}"

    def environment(self) -> dict[str, str]:
        """The variables that point campaigner (campaigner/config.py) at this simulator."""
        credentials = self.config.credentials
        return {
            "CAMPAIGNER_ENABLEX_BASE_URL": self.base_url(enablex.PROVIDER),
            "CAMPAIGNER_ENABLEX_APP_ID": credentials.enablex_app_id,
            "CAMPAIGNER_ENABLEX_APP_KEY": credentials.enablex_app_key,
            "CAMPAIGNER_FRACTEL_BASE_URL": self.base_url(fractel.PROVIDER),
            "CAMPAIGNER_FRACTEL_TOKEN": credentials.fractel_token,
            "CAMPAIGNER_WEBEX_BASE_URL": self.base_url(webex.PROVIDER),
            "CAMPAIGNER_WEBEX_SERVICE_KEY": credentials.webex_service_key,
        }

    def reset(self) -> None:
        """Forget all calls and clear the ledger, from a thread other than the server's."""
        assert self.loop is not None, "the simulator is not running"
        asyncio.run_coroutine_threadsafe(self.exchange.reset(), self.loop).result(timeout=30)

    def _server(self, sock: socket.socket) -> uvicorn.Server:
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            http=ArrivalStamping,  # httptools, noting when each request arrived
            loop="uvloop" if _loop_factory else "asyncio",
            lifespan="on",
            log_config=None,
            log_level="warning",
            access_log=False,
            proxy_headers=False,  # no proxy in front: one ASGI layer less on every request
            backlog=4096,
            timeout_graceful_shutdown=5,
        )
        return uvicorn.Server(config)

    def _stop(self, server: uvicorn.Server) -> None:
        """Release hung requests and tell uvicorn to exit; callable from any thread."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.closing.set)
        server.should_exit = True


def bind(port: int = 0) -> socket.socket:
    """A listening TCP socket on 127.0.0.1 (`port` 0: a free one)."""
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
    # without it each keep-alive answer waits out the peer's delayed ACK (about 40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
        sock.listen(4096)
    except OSError:
        sock.close()
        raise
    return sock


@contextmanager
def running_simulator(config: SimulatorConfig | None = None, port: int = 0) -> Iterator[Simulator]:
    """Serve a simulator from a background thread for the length of the `with` block."""
    simulator = Simulator(config)
    sock = bind(port)
    server = simulator._server(sock)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            with asyncio.Runner(loop_factory=_loop_factory) as runner:
                runner.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported to the thread that waits for the start
            failure.append(exc)
        finally:
            simulator._ready.set()

    thread = threading.Thread(target=run, name=f"simulator-{simulator.port}", daemon=True)
    thread.start()
    try:
        simulator._ready.wait(timeout=30)
        if failure or simulator.loop is None:
            raise RuntimeError("the simulator did not start") from (failure[0] if failure else None)
        yield simulator
    finally:
        simulator._stop(server)
        thread.join(timeout=30)
        sock.close()


@asynccontextmanager
async def serving_simulator(
    config: SimulatorConfig | None = None, port: int = 0
) -> AsyncIterator[Simulator]:
    """Serve a simulator as a task on the running event loop for the length of the block."""
    simulator = Simulator(config)
    sock = bind(port)
    server = simulator._server(sock)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    started = asyncio.ensure_future(simulator._started.wait())
    try:
        await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
            raise RuntimeError("the simulator stopped as it started")
        yield simulator
    finally:
        started.cancel()
        simulator._stop(server)
        await task
        sock.close()


def serve_forever(simulator: Simulator, port: int, on_start: Callable[[Simulator], Any]) -> None:
    """Serve in this (main) thread until SIGINT or SIGTERM; `on_start` once the port is known."""
    sock = bind(port)
    server = simulator._server(sock)
    on_start(simulator)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
