"""Headless Chromium (Debian's chromium and chromium-driver) driven by Selenium, for the page's tests
and scripts/screenshot.py."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

MISSING_BROWSER = ("Chromium and chromedriver are needed for the browser tests: apt-get install chromium "
                   "chromium-driver (or scripts/test --install-browser)")


def chromium(width: int = 1280, height: int = 1600):
    """A headless Chromium WebDriver. If Chromium or its driver is missing a test is skipped with
    how to install them, except under CI=true, where a missing browser raises RuntimeError: CI must
    not pass without the page's tests (a script, such as scripts/screenshot.py, gets the error too)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not binary or not driver:
        if os.environ.get("CI") == "true" or "pytest" not in sys.modules:
            raise RuntimeError(MISSING_BROWSER + ("; CI=true, so the browser tests fail instead of skipping"
                                                  if os.environ.get("CI") == "true" else ""))
        sys.modules["pytest"].skip(MISSING_BROWSER)
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", f"--window-size={width},{height}",
                 f"--user-data-dir={tempfile.mkdtemp(prefix='cg-chromium-')}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options)


DROP_JS = """
const [input] = arguments;
const transfer = new DataTransfer();
for (const file of input.files) transfer.items.add(file);
document.getElementById('drop').dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}));
"""


def drop_files(browser, paths, check: bool = True) -> None:
    """Drop files on the page's drop zone, as a user dragging them from the file manager does, then
    press "Check photos" (``check``; the page checks only when asked)."""
    from selenium.webdriver.common.by import By

    browser.execute_script("const i = document.createElement('input'); i.type = 'file'; i.multiple = true;"
                           "i.id = 'test-drag-source'; document.body.appendChild(i);")
    source = browser.find_element(By.ID, "test-drag-source")
    source.send_keys("\n".join(str(p) for p in paths))
    browser.execute_script(DROP_JS, source)
    if check:
        browser.find_element(By.ID, "check").click()


def choose_files(browser, paths, check: bool = True) -> None:
    """Choose files with the page's file picker, then press "Check photos" (``check``)."""
    from selenium.webdriver.common.by import By

    browser.find_element(By.ID, "photos").send_keys("\n".join(str(p) for p in paths))
    if check:
        browser.find_element(By.ID, "check").click()


def wait_for_results(browser, count: int, timeout: float = 120):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, timeout).until(
        lambda b: len(b.find_elements(By.CSS_SELECTOR, "#results > li:not(.checking)")) >= count)
    return browser.find_elements(By.CSS_SELECTOR, "#results > li")
