"""What the receiver's tests share: its credentials and a client that posts webhooks to it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from campaigner.model import Provider
from campaigner.store.attempts import Applied

TOKEN = "receiver-test-token-0123456789"
USER = "hooks"
PASSWORD = "a-long-webhook-password"


@dataclass
class Receiver:
    url: str
    client: httpx.AsyncClient
    applied: list[Applied] = field(default_factory=list)

    async def post(
        self,
        provider: Provider | str,
        body: bytes,
        *,
        token: str | None = TOKEN,
        auth: tuple[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """POST a webhook: by default with the token in the path, else as `auth` says."""
        name = provider.value if isinstance(provider, Provider) else provider
        path = f"/hooks/{name}/{token}" if token is not None else f"/hooks/{name}"
        return await self.client.post(
            path,
            content=body,
            auth=httpx.BasicAuth(*auth) if auth is not None else httpx.USE_CLIENT_DEFAULT,
            headers={"content-type": "application/json", **(headers or {})},
        )
