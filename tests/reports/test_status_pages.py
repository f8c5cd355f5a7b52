"""The receiver's status pages over real HTTP: behind the receiver's credentials, read-only,
refreshing themselves, and showing what `campaigner status` shows."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from reports_helpers import (
    NAME,
    PASSWORD,
    USER,
    cli,
    import_samples,
    make_campaign,
    read_page,
)
from sqlalchemy.engine import URL

from campaigner.config import Settings
from campaigner.db import Database
from campaigner.receiver import WebhookAuth, create_app, serving

TOKEN = "status-page-token-0123456789"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(database: Database, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    make_campaign(database)
    import_samples(database, tmp_path)
    app = create_app(database, Settings(), auth=WebhookAuth(TOKEN, USER, PASSWORD))
    async with serving(app) as running, httpx.AsyncClient(base_url=running.url) as http:
        yield http


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/", f"/campaigns/{NAME}"])
async def test_the_pages_need_the_receivers_credentials(
    client: httpx.AsyncClient, path: str
) -> None:
    refused = [
        await client.get(path),
        await client.get(path, auth=(USER, "wrong")),
        await client.get(path, headers={"authorization": "Bearer " + TOKEN}),
    ]
    assert [r.status_code for r in refused] == [401, 401, 401]
    assert refused[0].headers["www-authenticate"].startswith("Basic")
    assert "spring" not in refused[0].text
    assert (await client.get(path, auth=(USER, PASSWORD))).status_code == 200
    # A receiver with a token only: a browser signs in with the token as the password.
    assert (await client.get(path, auth=("anyone", TOKEN))).status_code == 200


@pytest.mark.anyio
async def test_the_pages_are_read_only(client: httpx.AsyncClient) -> None:
    for method in ("POST", "PUT", "DELETE"):
        answer = await client.request(method, f"/campaigns/{NAME}", auth=(USER, PASSWORD))
        assert answer.status_code == 405, method


@pytest.mark.anyio
async def test_the_index_lists_campaigns_and_refreshes_itself(client: httpx.AsyncClient) -> None:
    answer = await client.get("/", auth=(USER, PASSWORD))
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert '<meta http-equiv="refresh" content="5">' in answer.text
    page = read_page(answer.text)
    assert page.tables["campaigns"][0][:3] == [NAME, "running", "12"]
    assert f'href="/campaigns/{NAME}"' in answer.text


@pytest.mark.anyio
async def test_a_campaign_page_shows_what_status_shows(
    client: httpx.AsyncClient, database_url: URL
) -> None:
    answer = await client.get(f"/campaigns/{NAME}", auth=(USER, PASSWORD))
    status = json.loads(cli(database_url, "status", NAME, "--json").output)
    page = read_page(answer.text)
    assert '<meta http-equiv="refresh" content="5">' in answer.text
    assert page.tiles["contacts"] == f"{status['contacts']:,}"
    assert page.tiles["delivered"] == f"{status['delivered']:,}"
    assert page.tiles["in_flight"] == f"{status['in_flight']:,}"
    assert page.tiles["delivery_rate"] == "-"  # nobody dialled yet: no rate
    assert status["delivery_rate"] is None
    outcomes = dict(page.tables["outcomes"])
    assert outcomes == {
        **{s: f"{n:,}" for s, n in status["contacts_by_state"].items() if n},
        "total": f"{status['contacts']:,}",
    }
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="chart-outcomes"' in (
        answer.text
    )


@pytest.mark.anyio
async def test_an_unknown_campaign_is_a_404_that_escapes_the_name(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/campaigns/%3Cscript%3Ex", auth=(USER, PASSWORD))
    assert answer.status_code == 404
    assert "<script>x" not in answer.text
    assert "&lt;script&gt;x" in answer.text
