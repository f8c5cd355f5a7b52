"""The dialer's HTTP client against a bare TCP server that answers exactly as each test says.

What matters most is the line between `NotSent` (nothing left: safe to send again) and `NoAnswer`
(the request may have arrived: never sent blind again).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
import pytest

from campaigner.dialer import transport
from campaigner.dialer.transport import HttpClient, NoAnswer, NotSent

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"id":"a"}\n'


class Server:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []
        self.port = 0

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        request = head + await reader.readexactly(length)
        self.requests.append(request)
        return request

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def serving(make: Callable[[Server], Handler]) -> AsyncIterator[Server]:
    server = Server(lambda r, w: asyncio.sleep(0))
    server.handler = make(server)
    listener = await asyncio.start_server(server._serve, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield server


def answer_each(response: bytes) -> Callable[[Server], Handler]:
    def make(server: Server) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                await server.read_request(reader)
                writer.write(response)
                await writer.drain()

        return handle

    return make


def run(test: Callable[[], Awaitable[None]]) -> None:
    anyio.run(test, backend="asyncio")


def test_a_json_post_and_its_answer() -> None:
    async def test() -> None:
        async with serving(answer_each(OK)) as server:
            client = HttpClient(1.0, 1.0)
            url = f"http://127.0.0.1:{server.port}/v1/call?x=1"
            response = await client.request("POST", url, {"Key": "k1"}, {"to": "+1", "n": 2})
            client.close()
        assert (response.status_code, response.content) == (200, b'{"id":"a"}\n')
        assert response.headers["content-type"] == "application/json"
        head, body = server.requests[0].split(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        assert lines[0] == "POST /v1/call?x=1 HTTP/1.1"
        assert f"Host: 127.0.0.1:{server.port}" in lines
        assert "Key: k1" in lines
        assert f"Content-Length: {len(body)}" in lines
        assert json.loads(body) == {"to": "+1", "n": 2}

    run(test)


def test_requests_share_a_kept_alive_connection() -> None:
    async def test() -> None:
        async with serving(answer_each(OK)) as server:
            client = HttpClient(1.0, 1.0)
            for _ in range(3):
                await client.request("GET", f"http://127.0.0.1:{server.port}/", {})
            client.close()
        assert (server.connections, len(server.requests)) == (1, 3)

    run(test)


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'4\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\n',
        b'HTTP/1.1 201 Created\r\nConnection: close\r\n\r\n{"a":1}',  # to the end of the stream
    ],
    ids=["chunked", "close-delimited"],
)
def test_bodies_however_framed(response: bytes) -> None:
    def make(server: Server) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read_request(reader)
            writer.write(response)
            await writer.drain()
            writer.close()

        return handle

    async def test() -> None:
        async with serving(make) as server:
            client = HttpClient(1.0, 1.0)
            answer = await client.request("POST", f"http://127.0.0.1:{server.port}/", {}, {})
            client.close()
        assert (answer.status_code, answer.content) == (201, b'{"a":1}')

    run(test)


def test_no_connection_means_not_sent() -> None:
    async def test() -> None:
        async with serving(answer_each(OK)) as server:
            port = server.port
        client = HttpClient(1.0, 1.0)  # the server is gone: connection refused
        with pytest.raises(NotSent, match="cannot connect"):
            await client.request("POST", f"http://127.0.0.1:{port}/", {}, {})

    run(test)


@pytest.mark.parametrize("server_does", ["nothing", "hang up"])
def test_a_request_read_and_not_answered_is_no_answer(server_does: str) -> None:
    read = anyio.Event()

    def make(server: Server) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read_request(reader)
            read.set()
            if server_does == "nothing":
                await reader.read()  # until the client gives up and closes
            # else: return, closing the connection without an answer

        return handle

    async def test() -> None:
        async with serving(make) as server:
            client = HttpClient(1.0, 0.3)
            with pytest.raises(NoAnswer):
                await client.request("POST", f"http://127.0.0.1:{server.port}/", {}, {})
            client.close()
        assert read.is_set()

    run(test)


def test_a_request_withdrawn_before_writing_never_leaves() -> None:
    class Withdrawn(Exception):
        pass

    async def refuse() -> None:
        raise Withdrawn

    async def test() -> None:
        async with serving(answer_each(OK)) as server:
            client = HttpClient(1.0, 1.0)
            url = f"http://127.0.0.1:{server.port}/"
            with pytest.raises(Withdrawn):
                await client.request("POST", url, {}, {}, refuse)
            await client.request("POST", url, {}, {})  # the connection went back to the pool
            client.close()
        assert (server.connections, len(server.requests)) == (1, 1)

    run(test)


def test_a_connection_gone_stale_during_the_turn_is_reopened_and_the_turn_taken_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Opening a connection takes time after the turn: the request waits for a new turn rather
    than go out late (the pace would see it bunched with the next)."""
    turns: list[int] = []

    async def ready() -> None:
        turns.append(len(turns))
        # The first turn lasts beyond any keep-alive; the second does not.
        monkeypatch.setattr(transport, "IDLE_SECONDS", 4.0 if len(turns) > 1 else -1.0)

    async def test() -> None:
        async with serving(answer_each(OK)) as server:
            client = HttpClient(1.0, 1.0)
            response = await client.request(
                "POST", f"http://127.0.0.1:{server.port}/", {}, {}, ready
            )
            client.close()
        assert response.status_code == 200
        assert (server.connections, len(server.requests), turns) == (2, 1, [0, 1])

    run(test)


def test_a_header_with_a_line_break_is_never_sent() -> None:
    async def test() -> None:
        async with serving(answer_each(OK)) as server:
            client = HttpClient(1.0, 1.0)
            with pytest.raises(NotSent, match="line break"):
                await client.request(
                    "POST", f"http://127.0.0.1:{server.port}/", {"X": "a\r\nEvil: 1"}, {}
                )
            client.close()
        assert server.requests == []

    run(test)


def test_only_http_urls() -> None:
    async def test() -> None:
        with pytest.raises(NotSent, match="not an http"):
            await HttpClient(1.0, 1.0).request("GET", "ftp://example.com/", {})

    run(test)
