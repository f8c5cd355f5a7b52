"""Helpers for the simulator's tests: a webhook receiver, and requests to each fake provider."""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response

ENABLEX_AUTH = "Basic " + base64.b64encode(b"sim-enablex-app:sim-enablex-key").decode()
CALLER_ID = "+13215550100"


@dataclass(frozen=True)
class Hook:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any  # the JSON body, or None


class Receiver:
    """Records every webhook; answers `statuses` in turn (then 200) to test retries."""

    def __init__(self) -> None:
        self.hooks: list[Hook] = []
        self.statuses: list[int] = []
        self._changed = threading.Condition()
        self.url = ""

    async def endpoint(self, request: Request) -> Response:
        raw = await request.body()
        hook = Hook(
            request.method,
            request.url.path,
            dict(request.query_params),
            dict(request.headers),
            json.loads(raw) if raw else None,
        )
        with self._changed:
            self.hooks.append(hook)
            status = self.statuses.pop(0) if self.statuses else 200
            self._changed.notify_all()
        return Response("ok", status)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Hook]:
        """The first `count` webhooks, once they have all arrived."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.hooks) >= count, timeout):
                raise TimeoutError(f"{len(self.hooks)} webhooks of {count} arrived: {self.hooks}")
            return list(self.hooks[:count])


def enablex_call(to: str = "+14155550100", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "test",
        "owner_ref": "contact-1",
        "from": CALLER_ID,
        "to": to,
        "action_on_connect": {"play": {"text": "Hello", "voice": "female", "language": "en-US"}},
    }
    return {**body, **extra}


def webex_message(to: str = "+14155550100", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "callerId": CALLER_ID,
        "dialedNumber": to,
        "audio": {"type": "TTS", "text": "Hello", "textFormat": "TEXT"},
        "correlationId": "contact-1",
    }
    return {**body, **extra}


def fractel_call(to: str = "14155550100", **extra: Any) -> dict[str, Any]:
    body = {"fonenumber": "3215550100", "to": to, "service_type": "TTS", "service_id": "Hello"}
    return {**body, **extra}


def dial(client: httpx.Client, provider: str, body: Any, **headers: str) -> httpx.Response:
    """POST a dial request to the simulator with the demo credentials (unless overridden)."""
    path, auth = {
        "enablex": ("/enablex/voice/v1/call", {"Authorization": ENABLEX_AUTH}),
        "fractel": ("/fractel/v2/calls", {"token": "sim-fractel-token"}),
        "webex": ("/webex/v1/voice/messages", {"key": "sim-webex-key"}),
    }[provider]
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(path, content=content, headers={**auth, **headers})
