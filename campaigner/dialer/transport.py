"""A lean HTTP/1.1 client for the providers' APIs: keep-alive pools over asyncio, httptools parsing.

Why not httpx: measured on the dial benchmark, httpx spends about a millisecond of CPU per dial
request (its anyio stream layers, per-request pool bookkeeping, a poll() of every idle connection
before reuse), which alone caps one dialer near 500 calls/s on a free core; and one client
collapses above a few dozen requests in flight (encode/httpcore#1035). A dial request is simple: a
JSON POST, a small JSON answer. This sends it over plain asyncio protocols (TLS by `ssl`, with
certificate and host name checks) and parses the answer with httptools, the C parser uvicorn uses,
for a fraction of the cost. It knows what the providers' APIs need and no more: no redirects, no
proxies, no compression (it asks for none), no HTTP/2.

Whether a request may have reached the provider decides everything downstream, so the errors say:

- `NotSent`: no connection could be made (refused, unreachable, connect timeout): the request
  never left;
- `NoAnswer`: the request was written (or may have been) and no complete answer came back (read
  timeout, connection dropped): the provider may have acted on it.

A pooled connection is only reused while it is open and has been idle less than `IDLE_SECONDS`
(servers close idle keep-alive connections after 5 s or more), so a request rarely meets a
connection the server is closing; if it does, that is `NoAnswer` like any other, never a blind
second send.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httptools

from .. import __version__

IDLE_SECONDS = 4.0  # reuse a keep-alive connection idle for less than this
USER_AGENT = f"campaigner/{__version__}"


class TransportError(Exception):
    """No answer to a request; see the subclasses for whether it left."""


class NotSent(TransportError):
    """The request was not sent: no connection could be made."""


class NoAnswer(TransportError):
    """The request was (or may have been) sent, and no complete answer came back."""


@dataclass(frozen=True)
class Response:
    status_code: int
    headers: Mapping[str, str]  # names in lower case
    content: bytes


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.open = True
        self.idle_since = time.monotonic()
        self._answer: asyncio.Future[Response] | None = None
        self._reset()

    def _reset(self) -> None:
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._status = 0
        self._keep_alive = True
        self._headers_done = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(NoAnswer(f"unreadable answer: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        if self._headers_done and self._status and not self._keep_alive:
            self.on_message_complete()  # an answer whose body runs to the end of the connection
        else:
            self._fail(NoAnswer(f"connection closed before a complete answer ({exc or 'EOF'})"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._status = self.parser.get_status_code()
        self._keep_alive = self.parser.should_keep_alive()
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(Response(self._status, self._headers, b"".join(self._body)))
        if not self._keep_alive:
            self.close()

    def _fail(self, error: TransportError) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(error)

    async def exchange(self, request: bytes, timeout: float) -> Response:
        assert self.transport is not None
        self._reset()
        self._answer = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        try:
            async with asyncio.timeout(timeout):
                return await self._answer
        except TimeoutError:
            self.close()
            raise NoAnswer(f"no answer within {timeout:g} s") from None
        finally:
            self._answer = None
            self.idle_since = time.monotonic()

    def reusable(self, now: float) -> bool:
        return (
            self.open
            and self._keep_alive
            and self.transport is not None
            and not self.transport.is_closing()
            and now - self.idle_since < IDLE_SECONDS
        )

    def close(self) -> None:
        self.open = False
        if self.transport is not None:
            self.transport.close()


@dataclass
class _Pool:
    """Keep-alive connections to one scheme://host:port."""

    host: str
    port: int
    tls: ssl.SSLContext | None
    idle: list[_Connection] = field(default_factory=list)

    async def connect(self, timeout: float) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, connection = await loop.create_connection(
                    _Connection,
                    self.host,
                    self.port,
                    ssl=self.tls,
                    server_hostname=self.host if self.tls else None,
                )
        except TimeoutError:
            raise NotSent(
                f"no connection to {self.host}:{self.port} within {timeout:g} s"
            ) from None
        except (OSError, ssl.SSLError) as exc:
            raise NotSent(f"cannot connect to {self.host}:{self.port}: {exc}") from None
        connection.transport = transport  # uvloop may call connection_made after returning
        return connection

    def give_back(self, connection: _Connection) -> None:
        if connection.reusable(time.monotonic()):
            self.idle.append(connection)
        else:
            connection.close()

    def take(self) -> _Connection | None:
        now = time.monotonic()
        while self.idle:
            connection = self.idle.pop()
            if connection.reusable(now):
                return connection
            connection.close()
        return None

    def close(self) -> None:
        for connection in self.idle:
            connection.close()
        self.idle.clear()


class HttpClient:
    """Sends requests over pooled keep-alive connections, one pool per scheme, host and port."""

    def __init__(self, connect_timeout: float, read_timeout: float) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._pools: dict[tuple[str, str, int], _Pool] = {}
        self._tls: ssl.SSLContext | None = None

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        json_body: Mapping[str, Any] | None = None,
        ready: Callable[[], Awaitable[None]] | None = None,
    ) -> Response:
        """Send one request; `ready` is awaited with the connection open, just before writing
        (again if the connection had to be reopened; what it raises comes out of here, nothing
        sent)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise NotSent(f"cannot send to {url!r}: not an http(s) URL with a host")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        pool = self._pool(parts.scheme, parts.hostname, port)
        request = _encode(method, parts.path or "/", parts.query, parts.netloc, headers, json_body)
        connection = pool.take() or await pool.connect(self.connect_timeout)
        if ready is not None:
            connection = await self._when_ready(pool, connection, ready)
        try:
            response = await connection.exchange(request, self.read_timeout)
        except BaseException:
            connection.close()
            raise
        pool.give_back(connection)
        return response

    async def _when_ready(
        self, pool: _Pool, connection: _Connection, ready: Callable[[], Awaitable[None]]
    ) -> _Connection:
        """Await `ready`, then return a connection fit to write on at once.

        One that went stale while waiting its turn gives way to another pooled one, which keeps
        the turn, or to a new one; opening it takes a while (tens of ms on a busy machine), so the
        request then waits for a turn of its own rather than go out late, out of step with the
        pace. Once only: at paces so slow that every wait outlasts a keep-alive, the new
        connection opened after the second turn is used as it is.
        """
        for last in (False, True):
            try:
                await ready()
            except BaseException:
                pool.give_back(connection)
                raise
            if connection.reusable(time.monotonic()):
                return connection
            connection.close()
            pooled = pool.take()
            if pooled is not None:
                return pooled
            connection = await pool.connect(self.connect_timeout)
            if last:
                break
        return connection

    def _pool(self, scheme: str, host: str, port: int) -> _Pool:
        key = (scheme, host, port)
        pool = self._pools.get(key)
        if pool is None:
            tls = None
            if scheme == "https":
                self._tls = self._tls or ssl.create_default_context()
                tls = self._tls
            pool = self._pools[key] = _Pool(host, port, tls)
        return pool

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()


def _encode(
    method: str,
    path: str,
    query: str,
    netloc: str,
    headers: Mapping[str, str],
    json_body: Mapping[str, Any] | None,
) -> bytes:
    body = b"" if json_body is None else json.dumps(json_body, separators=(",", ":")).encode()
    target = f"{path}?{query}" if query else path
    lines = [f"{method} {target} HTTP/1.1", f"Host: {netloc}", f"User-Agent: {USER_AGENT}"]
    for name, value in headers.items():
        if any(ch in f"{name}{value}" for ch in "\r\n"):
            raise NotSent(f"header {name!r} holds a line break")  # never split a request
        if name.lower() not in ("host", "content-length", "user-agent"):
            lines.append(f"{name}: {value}")
    if json_body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body
