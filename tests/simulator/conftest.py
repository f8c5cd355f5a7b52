"""Fixtures for the simulator's tests: a webhook receiver served on 127.0.0.1."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
import uvicorn
from sim_helpers import Receiver
from starlette.applications import Starlette
from starlette.routing import Route

from campaigner.simulator.server import bind


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/{path:path}", receiver.endpoint, methods=["GET", "POST"])])
    sock = bind(0)
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="warning"))
    thread = threading.Thread(target=asyncio.run, args=(server.serve(sockets=[sock]),))
    thread.start()
    try:
        yield receiver
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
