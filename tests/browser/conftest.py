"""Browser fixtures: the system Chromium driven by Playwright against a live stopsync server.

Nothing leaves the machine: OSM tile requests are aborted, and any other request to a host
that is not the test server is aborted and recorded so a test can fail on it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
TILE_PATTERN = "https://tile.openstreetmap.org/**"
TILE_PREFIX = "https://tile.openstreetmap.org/"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need the system Chromium at {CHROMIUM}, which is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


class LiveServer:
    """A real HTTP server around a Flask app, in a background thread."""

    def __init__(self, app: Flask) -> None:
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()


@pytest.fixture
def published_server(published_sqlite_app: Flask) -> Iterator[LiveServer]:
    """The real ATLAS/OSM sample, matched and published, served over HTTP."""
    with LiveServer(published_sqlite_app) as server:
        yield server


@pytest.fixture
def empty_server(sqlite_app: Flask) -> Iterator[LiveServer]:
    """A migrated database where nothing has been published yet."""
    with LiveServer(sqlite_app) as server:
        yield server


@dataclass
class BrowserLog:
    """What the page complained about while a test ran."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)

    def unexpected(self) -> list[str]:
        """Everything except the tile loads the tests abort on purpose."""
        return self.console_errors + self.page_errors + [f"external request {url}" for url in self.external_requests]


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


@pytest.fixture
def page(browser: Any, browser_log: BrowserLog) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")

    def refuse_external(route: Any) -> None:
        host = urlsplit(route.request.url).hostname
        if host == "127.0.0.1":
            route.fallback()
        else:
            browser_log.external_requests.append(route.request.url)
            route.abort()

    context.route("**/*", refuse_external)
    new_page = context.new_page()
    # Page routes win over context routes: tiles are aborted without being recorded.
    new_page.route(TILE_PATTERN, lambda route: route.abort())

    def on_console(message: Any) -> None:
        if message.type != "error":
            return
        location = str((message.location or {}).get("url", ""))
        if location.startswith(TILE_PREFIX):
            return  # a tile we aborted: the map must work without them
        browser_log.console_errors.append(f"{message.text} ({location})")

    new_page.on("console", on_console)
    new_page.on("pageerror", lambda error: browser_log.page_errors.append(str(error)))
    new_page.set_default_timeout(15_000)
    yield new_page
    context.close()
