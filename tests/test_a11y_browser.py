"""axe-core (npm's axe-core 4.10, installed by `scripts/bootstrap --test`) on every page state,
in real headless Chromium at 1280 px and in a 380 px helpdesk side panel: no violations.

The page states: search (empty and with results), an article, suggest (empty, a suggestion,
no confident match, a message in a language no encoder covers), what changed, reports, and an error page; the choice list is checked
in tests/test_choice.py, on a knowledge base made to be ambiguous.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from chromium import axe_violations, headless_chromium, needs_axe, needs_chromium
from conftest import LiveServer, make_app

pytestmark = [pytest.mark.browser, needs_chromium, needs_axe]

SUGGESTION = "Hi, the walking boots I ordered are too small. Can I swap them for a bigger size? Thanks, Sam"
OFF_TOPIC = "What will the weather be like on Mars tomorrow afternoon?"
# The ten-article test index is English-only (no e5 vectors): a Tamil message is not covered,
# and the page says so in a line above the no-match notice.
TAMIL = "நான் திருப்பி அனுப்பிய பொருளுக்கு இன்னும் பணம் வரவில்லை, ஆர்டர் எண் LK-4829133"


@pytest.fixture(scope="module")
def server(kb_index, tmp_path_factory):
    with LiveServer(make_app(kb_index, tmp_path_factory.mktemp("a11y"))) as live:
        yield live


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as driver:
        driver.set_script_timeout(60)
        yield driver


def ready(driver) -> None:
    WebDriverWait(driver, 15).until(lambda d: d.execute_script("return document.readyState") == "complete")


def submit_suggest(driver, base: str, text: str, wait_css: str) -> None:
    driver.get(base + "/suggest")
    ready(driver)
    box = driver.find_element(By.ID, "message")
    box.send_keys(text)
    driver.find_element(By.CSS_SELECTOR, "form[data-suggest-form] button[type=submit]").click()
    WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, wait_css))


STATES = {
    "search": lambda d, base: (d.get(base + "/"), ready(d)),
    "search results": lambda d, base: (d.get(base + "/search?q=refund"), ready(d)),
    "article": lambda d, base: (d.get(base + "/articles/returns/start-a-return"), ready(d)),
    "suggest": lambda d, base: (d.get(base + "/suggest"), ready(d)),
    "a suggestion": lambda d, base: submit_suggest(d, base, SUGGESTION, "[data-top-suggestion], [data-choice]"),
    "no confident match": lambda d, base: submit_suggest(d, base, OFF_TOPIC, "[data-no-match]"),
    "a language no encoder covers": lambda d, base: submit_suggest(d, base, TAMIL, "[data-lang-notice]"),
    "what changed": lambda d, base: (d.get(base + "/changes"), ready(d)),
    "reports": lambda d, base: (d.get(base + "/reports"), ready(d)),
    "not found": lambda d, base: (d.get(base + "/articles/no/such-article"), ready(d)),
}


@pytest.mark.parametrize("width", [1280, 380])
@pytest.mark.parametrize("state", list(STATES))
def test_no_accessibility_violations(browser, server, state, width):
    browser.set_window_size(width, 900)
    STATES[state](browser, server.url)
    assert axe_violations(browser) == []
