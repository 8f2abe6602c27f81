"""The operator console in a real headless Chromium against a real uvicorn server on loopback: log in with an
admin key, find the dead application, click Replay, and see it submitted.

Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Without them the test is skipped — or
fails, when GERBANG_TEST_REQUIRE_BROWSER=1 (CI sets it, so a missing browser can never pass silently). Selenium is
given the driver and the browser explicitly and runs offline: nothing is downloaded.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.registry import discover
from connectors.simkit import serving
from core.api.app import create_app
from core.db import make_engine, session_factory, upgrade
from core.demo import agency_environment
from core.security.clients import create_client
from core.settings import Settings
from tests.conftest import BUS_SECRETS
from tests.core.bus.helpers import FAST, SUPPLY, wait_until
from tests.core.conftest import COUNTER_CONTEXT

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
REQUIRED = os.environ.get("GERBANG_TEST_REQUIRE_BROWSER") == "1"


def browser_missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} is not installed (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    return None


@contextmanager
def headless_chromium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *arguments: str) -> Iterator[Any]:
    """Debian's Chromium under Selenium, headless, with `arguments` added; a skip when it is not installed (a
    failure under GERBANG_TEST_REQUIRE_BROWSER=1)."""
    missing = browser_missing()
    if missing:
        if REQUIRED:
            pytest.fail(f"GERBANG_TEST_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must never go to the network
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--no-first-run", "--disable-background-networking", "--disable-sync",
                     "--disable-component-update", "--window-size=1400,1000", f"--user-data-dir={tmp_path / 'chromium'}",
                     *arguments):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with headless_chromium(tmp_path, monkeypatch) as driver:
        yield driver


@pytest.fixture
def server(tmp_path: Path, simulators: Any) -> Iterator[tuple[str, str, dict[str, str]]]:
    """A real API server on loopback (SQLite, embedded dispatcher): (its URL, an admin key, counter headers)."""
    url = f"sqlite:///{(tmp_path / 'gerbang.db').as_posix()}"
    upgrade(url)
    engine = make_engine(url)
    with session_factory(engine)() as session:
        _, admin = create_client(session, "operator", ["admin"], [], kind="operator")
    with session_factory(engine)() as session:
        _, counter = create_client(session, "counter", ["application:submit:*", "application:read"], [])
    engine.dispose()
    settings = Settings(database_url=url, agency_env=agency_environment(discover(), simulators), data_dir=tmp_path,
                        **BUS_SECRETS, **{**FAST, "submit_deadline_s": 1.0})
    running = serving.start(create_app(settings))
    try:
        yield running.url, admin, {**COUNTER_CONTEXT, "Authorization": f"Bearer {counter}"}
    finally:
        running.stop()


def status_of(base: str, headers: dict[str, str], app_id: str) -> str:
    return str(httpx.get(f"{base}/v1/applications/{app_id}", headers=headers, timeout=10).json()["status"])


def test_log_in_see_the_dead_letter_and_replay_it(browser, server, set_fault) -> None:  # type: ignore
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    base, admin_key, counter = server
    set_fault("oss", "down")
    answer = httpx.post(f"{base}/v1/applications", json=SUPPLY.repeatable("oss"), timeout=10,
                        headers={**counter, "Idempotency-Key": str(uuid.uuid4())})
    assert answer.status_code == 202, answer.text
    app_id = answer.json()["id"]
    wait_until(lambda: status_of(base, counter, app_id) == "failed", what="the application to fail")
    set_fault("oss", "ok")

    wait = WebDriverWait(browser, 20)
    browser.get(f"{base}/console")
    assert browser.find_elements(By.ID, "agencies") == []            # not logged in: the login form
    browser.find_element(By.ID, "key").send_keys("gbk_not-a-key-at-all-0000000000")
    browser.find_element(By.ID, "login").click()
    assert "not valid" in wait.until(ready.presence_of_element_located((By.ID, "error"))).text

    browser.find_element(By.ID, "key").send_keys(admin_key)
    browser.find_element(By.ID, "login").click()
    wait.until(ready.presence_of_element_located((By.ID, "agencies")))
    assert browser.execute_script("return document.cookie") == ""     # HttpOnly: no script sees the session
    assert admin_key not in browser.page_source
    assert browser.find_element(By.CSS_SELECTOR, 'tr[data-agency="oss"] .breaker').text in ("closed", "open",
                                                                                             "half_open")
    row = browser.find_element(By.CSS_SELECTOR, f'#dead tr[data-application="{app_id}"]')
    assert "oss" in row.text

    row.find_element(By.ID, f"replay-{app_id}").click()
    notice = wait.until(ready.presence_of_element_located((By.ID, "notice")))
    assert app_id in notice.text and "sent again" in notice.text
    assert browser.current_url.startswith(f"{base}/console?replayed=")
    assert browser.find_elements(By.CSS_SELECTOR, f'#dead tr[data-application="{app_id}"]') == []
    wait_until(lambda: status_of(base, counter, app_id) == "submitted", what="the replayed application to submit")

    browser.refresh()
    recent = wait.until(ready.presence_of_element_located(
        (By.CSS_SELECTOR, f'#recent tr[data-application="{app_id}"] .status')))
    assert recent.text == "submitted"
    browser.find_element(By.ID, "logout").click()
    wait.until(ready.presence_of_element_located((By.ID, "key")))
    assert browser.get_cookies() == []
