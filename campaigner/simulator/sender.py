"""A lean HTTP/1.1 client for the simulator's webhooks: keep-alive connections, pooled per host.

The simulator must deliver thousands of webhook POSTs a second from one Python process. One
httpx.AsyncClient degrades badly with hundreds of requests in flight (encode/httpcore#1035), and
we control both ends, so this sends requests over plain asyncio protocols and parses the answer
with httptools (the C parser uvicorn uses). It knows only what webhooks need: GET or POST, a
body with Content-Length, an answer's status; it reads and drops answer bodies.

A pooled connection the receiver has meanwhile closed is retried once on a fresh connection, when
it failed before a byte of answer came back (the receiver never saw the request).
"""

from __future__ import annotations

import asyncio
import functools
import socket
from collections.abc import Mapping
from typing import cast
from urllib.parse import urlsplit

import httptools


class SendError(Exception):
    """The webhook could not be delivered: connection refused, reset, timed out, bad answer."""


class _Stale(SendError):
    """The connection closed before any answer: the request was not seen."""


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[int] | None = None
        self.alive = True
        self.answered = False  # some bytes of the current answer arrived
        self.keep_alive = True
        self.status = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.answered = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(SendError(f"unreadable answer: {exc}"))
            self.close()

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()

    def on_message_complete(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(self.status)

    def connection_lost(self, exc: Exception | None) -> None:
        self.alive = False
        if self.status and self.answered:  # an answer read to the end of the connection
            self.on_message_complete()
        elif self.answered:
            self._fail(SendError(f"connection lost mid-answer: {exc}"))
        else:
            self._fail(_Stale(f"connection closed before an answer: {exc}"))

    def _fail(self, error: SendError) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(error)

    async def exchange(self, request: bytes) -> int:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.answered, self.status = False, 0
        self.transport.write(request)
        return await self.waiter

    def close(self) -> None:
        self.alive = False
        if self.transport is not None:
            self.transport.close()


class _Pool:
    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port = host, port
        self.idle: list[_Connection] = []
        self.slots = asyncio.Semaphore(size)

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(_Connection, self.host, self.port)
        except OSError as exc:
            raise SendError(f"cannot connect to {self.host}:{self.port}: {exc}") from None
        return connection

    async def request(self, request: bytes) -> int:
        async with self.slots:
            connection = None
            while self.idle and connection is None:
                candidate = self.idle.pop()
                connection = candidate if candidate.alive else None
            reused = connection is not None
            connection = connection or await self._connect()
            try:
                try:
                    status = await connection.exchange(request)
                except _Stale:
                    if not reused:
                        raise
                    connection = await self._connect()
                    status = await connection.exchange(request)
            except BaseException:
                connection.close()
                raise
            if connection.alive and connection.keep_alive:
                self.idle.append(connection)
            else:
                connection.close()
            return status

    def close(self) -> None:
        for connection in self.idle:
            connection.close()
        self.idle.clear()


@functools.lru_cache(maxsize=4096)
def _split(url: str) -> tuple[str, int, str, str]:
    """Host, port, `Host` header and request target of an http URL."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise SendError(f"cannot deliver to {url!r}: the simulator sends plain http only")
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    return parts.hostname, parts.port or 80, parts.netloc, target


class WebhookSender:
    """Sends webhooks; one pool of at most `connections_per_host` connections per host:port."""

    def __init__(self, connections_per_host: int = 256, timeout: float = 10.0) -> None:
        self.connections_per_host = connections_per_host
        self.timeout = timeout
        self._pools: dict[tuple[str, int], _Pool] = {}

    async def send(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str] | None = None
    ) -> int:
        """Send one request and return the answer's HTTP status; SendError if there is none."""
        host, port, netloc, target = _split(url)
        lines = [
            f"{method} {target} HTTP/1.1",
            f"Host: {netloc}",
            "User-Agent: campaigner-simulator",
        ]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
        pool = self._pools.get((host, port))
        if pool is None:
            pool = self._pools[(host, port)] = _Pool(host, port, self.connections_per_host)
        try:
            async with asyncio.timeout(self.timeout):
                return await pool.request(request)
        except TimeoutError:
            raise SendError(f"no answer from {netloc} within {self.timeout} s") from None

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
