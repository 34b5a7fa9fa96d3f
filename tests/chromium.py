"""Debian's headless Chromium (`chromium` + `chromium-driver`), started one way for the browser
tests and for benchmarks/screenshots.py."""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROME_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)

needs_chromium = pytest.mark.skipif(
    not CHROMEDRIVER.exists(),
    reason="needs Debian's chromium-driver at /usr/bin/chromedriver (apt-get install -y chromium chromium-driver)",
)


@contextmanager
def headless_chromium(*, keep_dialogs_open: bool = False, extra_flags: tuple[str, ...] = ()) -> Iterator[webdriver.Chrome]:
    """A driver on a throwaway profile that records the console. With `keep_dialogs_open`, an
    alert() stays open for a check to find instead of being dismissed by the next command."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROME_FLAGS, *extra_flags):
        options.add_argument(flag)
    profile = tempfile.TemporaryDirectory(prefix="kb-chromium-")
    options.add_argument(f"--user-data-dir={profile.name}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if keep_dialogs_open:
        options.unhandled_prompt_behavior = "ignore"
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()
        profile.cleanup()


AXE = Path(__file__).resolve().parent.parent / ".venv" / "node" / "node_modules" / "axe-core" / "axe.min.js"
needs_axe = pytest.mark.skipif(not AXE.exists(), reason="needs axe-core: scripts/bootstrap --test installs it with npm")


def axe_violations(driver) -> list[str]:
    """axe-core's violations on the page as it is now, one line each (rule, impact, the first nodes)."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(function (r) { done(r.violations.map(function (v) {"
        "  return v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3).map(function (n) { return n.target.join(' '); }).join(', ');"
        "})); }, function (e) { done(['axe failed: ' + e]); });"
    )
    return list(result)
