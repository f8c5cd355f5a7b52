"""Sending dial requests, and what each kind of failure means.

Requests go over `transport.HttpClient` (see there for why not httpx: measured, a millisecond of
CPU per request, and collapse beyond a few dozen in flight on one client).

What a failure means decides whether the call may exist:

- nothing was sent (no connection, connect timeout): `Transient`, the same request may simply be
  sent again;
- the request went out and no answer came (read timeout, connection dropped mid-answer):
  `Ambiguous`: the provider may have placed the call, so it is never redialled blind;
- an answer: the adapter reads it (`Accepted`, `Refused`, or `Transient` for 408, 429, 5xx).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..providers import DialAnswer, HttpRequest, ProviderAdapter, Transient
from .transport import HttpClient, NoAnswer, NotSent, Response


@dataclass(frozen=True)
class Ambiguous:
    """The request was sent and no answer came: the call may or may not have been placed."""

    reason: str


SendResult = DialAnswer | Ambiguous


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0  # seconds to open a connection (nothing sent yet: safe to retry)
    read: float = 30.0  # seconds to wait for the provider's answer once the request is sent


class ProviderClient:
    """Sends a provider's requests and reads the answers as the provider meant them."""

    def __init__(self, adapter: ProviderAdapter, timeouts: Timeouts) -> None:
        self.adapter = adapter
        self._http = HttpClient(timeouts.connect, timeouts.read)

    async def send(
        self, request: HttpRequest, ready: Callable[[], Awaitable[None]] | None = None
    ) -> tuple[SendResult, int | None]:
        """Send a dial request; what came back, as the provider meant it, and the HTTP status.

        `ready` is awaited once a connection is open, just before the request is written; what
        it raises comes out of here, with nothing sent.
        """
        response = await self.exchange(request, ready)
        if isinstance(response, Transient | Ambiguous):
            return response, None
        answer = self.adapter.parse_dial_answer(
            response.status_code, response.headers, response.content
        )
        return answer, response.status_code

    async def exchange(
        self, request: HttpRequest, ready: Callable[[], Awaitable[None]] | None = None
    ) -> Response | Transient | Ambiguous:
        """Send any request (a dial, a lookup); the response, or why there is none."""
        try:
            return await self._http.request(
                request.method, request.url, request.headers, request.json, ready
            )
        except NotSent as exc:
            return Transient(f"cannot reach the provider: {exc}")
        except NoAnswer as exc:
            return Ambiguous(f"sent, but no answer: {exc}")

    def close(self) -> None:
        self._http.close()
