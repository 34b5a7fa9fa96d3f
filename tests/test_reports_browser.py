"""/reports in real headless Chromium: styled like the rest of the page, linked from the navigation,
"Mark handled" by keyboard, and no axe-core violations at 1280 px and in a 380 px side panel."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from chromium import axe_violations, headless_chromium, needs_axe, needs_chromium
from conftest import LiveServer, make_app, sql_rows

pytestmark = [pytest.mark.browser, needs_chromium]

WAIT_S = 20


@pytest.fixture(scope="module")
def server(kb_index, tmp_path_factory):
    """A live app whose database has searches, an opened article, a gap and open feedback."""
    app = make_app(kb_index, tmp_path_factory.mktemp("reports-browser"))
    client = app.test_client()
    shown = client.get("/api/v1/search", query_string={"q": "refund policy"}).get_json()
    client.get(shown["results"][0]["article"]["url"], query_string={"rid": shown["request_id"]})
    client.get("/api/v1/search", query_string={"q": "what time does the leeds store open"})
    answer = client.post("/api/v1/suggest", json={"text": "can I swap my boots for a bigger size"}).get_json()
    for comment in ("steps skip the label", "customer wanted a refund instead"):
        assert client.post("/api/v1/feedback", json={"article_id": "returns/start-a-return", "outcome": "not_helpful",
                                                     "request_id": answer["request_id"], "comment": comment}).status_code == 201
    with LiveServer(app) as live:
        live.app = app
        yield live


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as driver:
        driver.set_script_timeout(60)
        yield driver


def open_reports(driver, server, width: int = 1280) -> None:
    driver.set_window_size(width, 900)
    driver.get(server.url + "/reports")
    WebDriverWait(driver, WAIT_S).until(lambda d: d.execute_script("return document.readyState") == "complete")


def style(driver, css: str, prop: str) -> str:
    return driver.execute_script(
        "return getComputedStyle(document.querySelector(arguments[0])).getPropertyValue(arguments[1])", css, prop)


def test_reports_tables_and_cards_are_styled(browser, server):
    open_reports(browser, server)
    assert style(browser, ".report-table", "border-collapse") == "collapse"
    assert style(browser, ".report-table td", "border-bottom-style") == "solid"
    assert style(browser, ".report-table td", "text-align") == "right"  # numbers line up
    assert style(browser, ".report-table tbody th", "text-align") == "left"
    assert style(browser, ".report-card", "background-color") == "rgb(255, 255, 255)"
    # The main column is left-aligned in the page's width, as on every other page.
    assert style(browser, "main", "max-width") == style(browser, ".site-header .wrap", "max-width")


def test_reports_is_in_the_navigation(browser, server):
    browser.set_window_size(1280, 900)
    browser.get(server.url + "/")
    link = browser.find_element(By.CSS_SELECTOR, "nav .nav a[href='/reports']")
    link.click()
    WebDriverWait(browser, WAIT_S).until(lambda d: d.current_url.endswith("/reports"))
    current = browser.find_element(By.CSS_SELECTOR, "nav .nav a[aria-current='page']")
    assert current.text == "Reports"


def test_the_trend_chart_is_drawn_with_a_text_description(browser, server):
    open_reports(browser, server)
    chart = browser.find_element(By.CSS_SELECTOR, "svg[aria-labelledby='trend-chart-title trend-chart-desc']")
    assert len(chart.find_elements(By.CSS_SELECTOR, "polyline")) == 3
    assert "questions asked" in browser.find_element(By.ID, "trend-chart-desc").get_attribute("textContent")
    assert chart.size["width"] > 300


def test_mark_handled_by_keyboard_removes_it_from_the_open_count(browser, server):
    open_reports(browser, server)
    items = browser.find_elements(By.CSS_SELECTOR, "[data-open-feedback]")
    assert len(items) == 2
    item = items[0]
    feedback_id = int(item.get_attribute("data-open-feedback"))
    note = item.find_element(By.CSS_SELECTOR, ".handled-note")
    note.send_keys("label step rewritten")
    note.send_keys(Keys.TAB)
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    status = item.find_element(By.CSS_SELECTOR, ".feedback-status")
    WebDriverWait(browser, WAIT_S).until(lambda d: "Marked handled by anonymous" in status.text, "not confirmed")
    assert browser.switch_to.active_element == status  # focus stays with the item, not <body>
    assert "is-handled" in item.get_attribute("class")
    rows = sql_rows(server.app.config["DATABASE"], "SELECT handled_by, handled_note FROM feedback WHERE id = :id",
                    id=feedback_id)
    assert rows == [{"handled_by": "anonymous", "handled_note": "label step rewritten"}]
    open_reports(browser, server)
    assert [int(e.get_attribute("data-open-feedback")) for e in browser.find_elements(By.CSS_SELECTOR, "[data-open-feedback]")] \
        != [] and feedback_id not in [int(e.get_attribute("data-open-feedback"))
                                      for e in browser.find_elements(By.CSS_SELECTOR, "[data-open-feedback]")]


@needs_axe
@pytest.mark.parametrize("width", [1280, 380])
def test_reports_with_data_has_no_accessibility_violations(browser, server, width):
    open_reports(browser, server, width)
    assert axe_violations(browser) == []
