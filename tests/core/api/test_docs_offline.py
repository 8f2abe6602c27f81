"""/docs (Swagger UI) and /redoc work with no internet: MPP networks are often closed, and a CDN-loaded page was
blank there. Headless Chromium is started with every host name unresolvable except loopback, against a real
uvicorn server; the pages must list the API's operations, and every resource they load must come from the server.

The same browser on FastAPI's stock /docs (scripts from a CDN) shows no operation: the control that proves the
network really is closed in this test. Needs Debian's chromium and chromium-driver (see
tests/core/console/test_browser.py; GERBANG_TEST_REQUIRE_BROWSER=1 turns a skip into a failure).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from connectors.simkit import serving
from core.api.app import create_app
from core.db import upgrade
from core.settings import Settings
from tests.conftest import BUS_SECRETS
from tests.core.console.test_browser import headless_chromium

NO_NETWORK = "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"


@pytest.fixture
def offline_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Headless Chromium that can reach 127.0.0.1 and nothing else (every name resolves to 'not found')."""
    with headless_chromium(tmp_path, monkeypatch, f"--host-resolver-rules={NO_NETWORK}",
                           "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=127.0.0.1") as driver:
        yield driver


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{(tmp_path / 'gerbang.db').as_posix()}"
    upgrade(url)
    running = serving.start(create_app(Settings(database_url=url, data_dir=tmp_path, **BUS_SECRETS)))
    try:
        yield running.url
    finally:
        running.stop()


def resources(browser: Any) -> list[str]:
    """What the page loaded besides images: scripts, styles, the OpenAPI document. (ReDoc's sidebar shows Redocly's
    logo from their CDN as an <img> that removes itself when it fails to load; nothing else depends on it.)"""
    return list(browser.execute_script("return performance.getEntriesByType('resource')"
                                       ".filter(e => e.initiatorType !== 'img').map(e => e.name)"))


def test_swagger_ui_lists_the_operations_offline(offline_browser, server) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    offline_browser.get(f"{server}/docs")
    WebDriverWait(offline_browser, 20).until(ready.presence_of_element_located((By.CSS_SELECTOR, ".opblock")))
    paths = {element.text.replace("\u200b", "") for element in
             offline_browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert {"/v1/applications", "/v1/agencies", "/v1/agencies/{agency}"} <= paths, paths
    loaded = resources(offline_browser)
    assert any(name.endswith("/swagger-ui-bundle.js") for name in loaded), loaded
    assert all(name.startswith(server) for name in loaded), loaded


def test_redoc_lists_the_operations_offline(offline_browser, server) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.support.ui import WebDriverWait

    offline_browser.get(f"{server}/redoc")
    WebDriverWait(offline_browser, 20).until(
        lambda browser: "/v1/applications" in browser.find_element("tag name", "body").text)
    loaded = resources(offline_browser)
    assert any(name.endswith("/redoc.standalone.js") for name in loaded), loaded
    assert all(name.startswith(server) for name in loaded), loaded


def test_the_stock_cdn_page_stays_blank_in_this_browser(offline_browser) -> None:  # type: ignore
    """The control: FastAPI's own /docs loads Swagger UI from a CDN, which this browser cannot reach."""
    from selenium.webdriver.common.by import By

    stock = FastAPI()

    @stock.get("/ping")
    def ping() -> dict[str, str]:
        return {}

    running = serving.start(stock)
    try:
        offline_browser.get(f"{running.url}/docs")
        offline_browser.implicitly_wait(3)
        assert offline_browser.find_elements(By.CSS_SELECTOR, ".opblock") == []
        assert offline_browser.execute_script("return typeof SwaggerUIBundle") == "undefined"
    finally:
        running.stop()
