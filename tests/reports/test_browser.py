"""The HTML report and the live status page, rendered by headless Chromium (Debian's, driven by
Playwright): no console error, every chart drawn with a size, a screenshot kept in tmp_path."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from reports_helpers import (
    NAME,
    PASSWORD,
    SCRIPTS,
    USER,
    cli,
    import_samples,
    make_campaign,
    receiver_in_thread,
    run_to_the_end,
)
from sqlalchemy.engine import URL

from campaigner.db import Database
from campaigner.receiver import WebhookAuth
from campaigner.simulator import (
    Behaviour,
    SimulatorConfig,
    outcome_mix,
    running_simulator,
)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
REPORT_CHARTS = {
    "chart-outcomes",
    "chart-timeline",
    "chart-hours",
    "chart-attempts",
    "chart-failures",
}


def _chromium() -> str:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"no Chromium at {CHROMIUM}: .ci/run installs Debian's chromium")
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    return CHROMIUM


def _load(page: Page, url: str) -> list[str]:
    """Open `url`; the console errors and uncaught exceptions it caused."""
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("requestfailed", lambda request: errors.append(f"request failed: {request.url}"))
    response = page.goto(url, wait_until="load")
    assert response is not None
    assert response.ok, (url, response.status)
    return errors


def _chart_sizes(page: Page) -> dict[str, tuple[float, float]]:
    sizes = {}
    for chart in page.locator("svg.chart").all():
        box = chart.bounding_box()
        assert box is not None
        sizes[str(chart.get_attribute("id"))] = (box["width"], box["height"])
    return sizes


def test_the_report_and_the_status_page_render_in_chromium(
    database: Database, database_url: URL, tmp_path: Path
) -> None:
    executable = _chromium()
    make_campaign(database)
    import_samples(database, tmp_path)
    behaviour = Behaviour(seed=5, scripts=SCRIPTS, mix=outcome_mix("delivered=3,busy=1,failed=1"))
    with running_simulator(SimulatorConfig(behaviour=behaviour)) as simulator:
        run_to_the_end(database, simulator)
    report = tmp_path / "report.html"
    written = cli(database_url, "report", NAME, "--format", "html", "--out", str(report))
    assert written.exit_code == 0, written.output

    # Playwright's synchronous API runs an event loop of its own: it starts once the campaign has
    # run (the dialer and the simulator run theirs).
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        try:
            _look(browser, database, report, tmp_path)
        finally:
            browser.close()
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert (tmp_path / "status.png").stat().st_size > 5_000


def _look(browser: Browser, database: Database, report: Path, tmp_path: Path) -> None:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        http_credentials={"username": USER, "password": PASSWORD},
    )
    try:
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        assert _load(page, report.as_uri()) == []
        assert requests == [report.as_uri()]  # nothing fetched but the file itself
        sizes = _chart_sizes(page)
        assert set(sizes) >= REPORT_CHARTS
        assert all(width > 100 and height > 20 for width, height in sizes.values()), sizes
        assert page.locator("svg.chart rect").count() > 10  # bars, not empty frames
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        page.emulate_media(media="print")
        assert all(w > 100 and h > 20 for w, h in _chart_sizes(page).values())
        page.emulate_media(media="screen")

        auth = WebhookAuth("status-browser-token-0123456789", USER, PASSWORD)
        with receiver_in_thread(database, auth) as url:
            live = context.new_page()
            assert _load(live, f"{url}/campaigns/{NAME}") == []
            assert set(_chart_sizes(live)) == {"chart-outcomes"}
            width, height = _chart_sizes(live)["chart-outcomes"]
            assert width > 100
            assert height > 20
            live.screenshot(path=str(tmp_path / "status.png"), full_page=True)
            assert _load(live, f"{url}/") == []
            assert live.locator(f"a[href='/campaigns/{NAME}']").count() == 1
    finally:
        context.close()
