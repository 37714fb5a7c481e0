"""Browser fixtures: pages driven in a real headless Chromium, as a customer's browser shows them.

For the tests in this package (and any added to it):

- fixture `chrome`: a selenium WebDriver on headless Chromium, window 1280x900, closed after the test;
- `save_screenshot(driver, name) -> Path`: keeps what the browser shows in
  `test-artifacts/screenshots/<name>.png` at the repository root (git ignores the folder; CI keeps it).

They use Debian's `chromium` and `chromium-driver` packages (`make browser` installs them when missing;
`make test` and `make e2e` run it first). Selenium is pointed at that chromedriver, so Selenium Manager never
downloads a browser or a driver. Without them the tests fail, saying how to install them: they never skip.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from tests.conftest import ROOT

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
WINDOW = (1280, 900)
INSTALL_HINT = "run `make browser` (as root: apt-get install chromium chromium-driver)"


@pytest.fixture
def chrome() -> Iterator[webdriver.Chrome]:
    """Headless Chromium, driven by the chromedriver on PATH (Debian's, in /usr/bin)."""
    browser, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if browser is None or driver_path is None:
        missing = [name for name, path in (("chromium", browser), ("chromedriver", driver_path)) if not path]
        pytest.fail(f"the browser tests need {' and '.join(missing)} on PATH: {INSTALL_HINT}", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
        "--disable-dev-shm-usage",  # containers give /dev/shm 64 MB; Chromium writes to /tmp instead
        "--disable-gpu",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        "--lang=en-US",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        driver.set_window_size(*WINDOW)
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        driver.quit()


def save_screenshot(driver: WebDriver, name: str) -> Path:
    """Keep what the browser shows now as `test-artifacts/screenshots/<name>.png`; returns the file."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if not driver.save_screenshot(str(path)):
        raise AssertionError(f"the browser could not save a screenshot to {path}")
    return path
