"""The simulator's webhook sender: at most `connections_per_host` webhooks in flight to one host."""

from __future__ import annotations

import asyncio

from campaigner.simulator.sender import WebhookSender

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


def test_webhooks_in_flight_stop_at_the_pools_size() -> None:
    """A receiver that answers nothing until three requests are open at once: the sender, allowed
    three connections, gets all nine answered and never has a fourth open."""

    async def scenario() -> tuple[list[int], int]:
        open_now, most = 0, 0
        three_open = asyncio.Event()

        writers: list[asyncio.StreamWriter] = []

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal open_now, most
            writers.append(writer)
            while not reader.at_eof():
                try:
                    await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                open_now += 1
                most = max(most, open_now)
                if open_now == 3:
                    three_open.set()
                await three_open.wait()
                open_now -= 1
                writer.write(ANSWER)
                await writer.drain()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        sender = WebhookSender(connections_per_host=3, timeout=30)
        try:
            url = f"http://127.0.0.1:{port}/hook"
            statuses = await asyncio.gather(*(sender.send("POST", url, b"{}") for _ in range(9)))
        finally:
            sender.close()
            server.close()
            for writer in writers:
                writer.close()
                await writer.wait_closed()
            await server.wait_closed()
        return list(statuses), most

    statuses, most = asyncio.run(scenario())
    assert statuses == [200] * 9
    assert most == 3
