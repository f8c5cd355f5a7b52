"""The receiver's status pages: `GET /` lists the campaigns, `GET /campaigns/{name}` shows one.

Read-only, and behind the receiver's credentials: HTTP Basic with the webhook user and password,
or, for a receiver that only has a token, any user name with the token as the password (a browser
can send Basic but not a path token). The pages are what `campaigner status` shows, rendered by
`campaigner.reports`, and refresh themselves every `REFRESH_SECONDS` (a meta refresh: no script).
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from urllib.parse import quote

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from ..db import Database
from ..errors import NotFound
from ..reports.html import index_page, page, status_page
from ..reports.status import Status, all_statuses, campaign_status
from ._auth import WebhookAuth

REFRESH_SECONDS = 5
_HEADERS = {
    "cache-control": "no-store",
    # Nothing on these pages is fetched or run: say so to the browser too.
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


class StatusPages:
    def __init__(self, database: Database, auth: WebhookAuth) -> None:
        self._database = database
        self._auth = auth

    def routes(self) -> list[Route]:
        return [
            Route("/", self._index, methods=["GET"]),
            Route("/campaigns/{name:path}", self._campaign, methods=["GET"]),
        ]

    def _allowed(self, request: Request) -> bool:
        return self._auth.allows_reader(request.headers.get("authorization"))

    def _refused(self) -> Response:
        return HTMLResponse(
            page(
                "campaigner: sign in",
                "<h1>Sign in</h1><p>These pages need the receiver's credentials.</p>",
            ),
            401,
            headers={"www-authenticate": 'Basic realm="campaigner status"', **_HEADERS},
        )

    async def _index(self, request: Request) -> Response:
        if not self._allowed(request):
            return self._refused()
        statuses = await anyio.to_thread.run_sync(self._read_all)
        body = index_page(
            statuses,
            refresh=REFRESH_SECONDS,
            link=lambda name: f"/campaigns/{quote(name, safe='')}",
        )
        return HTMLResponse(body, headers=_HEADERS)

    async def _campaign(self, request: Request) -> Response:
        if not self._allowed(request):
            return self._refused()
        name = request.path_params["name"]
        try:
            status = await anyio.to_thread.run_sync(self._read_one, name)
        except NotFound as exc:
            body = page("campaigner: not found", f"<h1>Not found</h1><p>{escape(str(exc))}</p>")
            return HTMLResponse(body, 404, headers=_HEADERS)
        return HTMLResponse(
            status_page(status, refresh=REFRESH_SECONDS, home="/"), headers=_HEADERS
        )

    def _read_all(self) -> list[Status]:
        with self._database.read() as connection:
            return all_statuses(connection, datetime.now(UTC))

    def _read_one(self, name: str) -> Status:
        with self._database.read() as connection:
            return campaign_status(connection, name, datetime.now(UTC))
