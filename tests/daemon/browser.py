"""A real headless browser for the /ui tests: Debian's chromium and chromedriver, driven by selenium.

Where they are not installed (``apt-get install chromium chromium-driver``; ./scripts/test does it as root on
Debian) the tests skip, except under CI, where that is an error: CI must test the page in a browser.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from hub.testing import in_ci

CHROMIUM = ("chromium", "chromium-browser")
WAIT = 15.0
"""Seconds an element may take to appear: a page of the daemon's, on a loaded machine."""
_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--window-size=1280,1000")


class Browser:
    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver

    def open(self, url: str) -> None:
        self.driver.get(url)

    def sign_in(self, base: str, user: str, password: str, *, expect_failure: bool = False) -> None:
        self.driver.delete_all_cookies()
        self.open(f"{base}/ui/login")
        self.find("#user").send_keys(user)
        self.find("#password").send_keys(password)
        self.submit(self.find("#sign-in"))
        self.wait_for("#problem" if expect_failure else "#who")

    def submit(self, button: WebElement) -> None:
        """Click a form's ``button`` and wait until the page it posted to has replaced this one."""
        page = self.driver.find_element(By.TAG_NAME, "html")
        button.click()
        WebDriverWait(self.driver, WAIT).until(expected_conditions.staleness_of(page))

    def wait_for(self, css: str) -> WebElement:
        try:
            found: WebElement = WebDriverWait(self.driver, WAIT).until(
                expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css)))
        except TimeoutException:
            raise AssertionError(f"no {css} on {self.driver.current_url} within {WAIT} s:\n"
                                 f"{self.driver.find_element(By.TAG_NAME, 'body').text}") from None
        return found

    def find(self, css: str) -> WebElement:
        return self.wait_for(css)

    def all(self, css: str) -> list[WebElement]:
        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def text(self, css: str) -> str:
        return str(self.find(css).text)

    def cookies(self) -> dict[str, str]:
        """The page's cookies, for a request sent outside the browser with its session."""
        return {c["name"]: c["value"] for c in self.driver.get_cookies()}


@contextmanager
def browser_or_skip() -> Iterator[Browser]:
    """A fresh headless chromium with an empty profile, quit afterwards."""
    binary = next((found for name in CHROMIUM if (found := shutil.which(name))), None)
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        reason = "no chromium and chromedriver (apt-get install chromium chromium-driver)"
        if in_ci():
            raise AssertionError(f"{reason}; CI must test /ui in a browser, so this is an error there")
        pytest.skip(reason)
    with tempfile.TemporaryDirectory(prefix="hub-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = binary
        for flag in (*_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        # The driver's own path given: selenium then downloads nothing.
        driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
        try:
            yield Browser(driver)
        finally:
            driver.quit()
