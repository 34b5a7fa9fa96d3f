"""docs/sidebar-example.html in real headless Chromium, served from another origin than kb: the
helpdesk frames kb, hands it the ticket by postMessage, and the suggestion appears in the panel;
a ticket from an origin kb does not allow, or of the wrong shape, is ignored.

One static server on 127.0.0.1 serves docs/. Reached as http://127.0.0.1:<port> it is the
allowed helpdesk (KB_CORS_ORIGINS); reached as http://localhost:<port> it is another origin,
allowed to frame kb (KB_FRAME_ANCESTORS) but not to hand it tickets.
"""

from __future__ import annotations

import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from test_web import EXCHANGE_MESSAGE, INTERNAL_ID

from indexer.chunking import plain_text

from chromium import headless_chromium, needs_chromium
from conftest import ROOT, LiveServer, make_app

pytestmark = [pytest.mark.browser, needs_chromium]

WAIT_S = 20
TICKET_ID = "ZD-48213"  # what docs/sidebar-example.html sends


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass  # the test output is no place for an access log


@pytest.fixture(scope="module")
def helpdesk():
    """docs/ on a real port: the helpdesk's own site."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(ROOT / "docs")))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture(scope="module")
def kb(kb_index, tmp_path_factory, helpdesk):
    app = make_app(kb_index, tmp_path_factory.mktemp("helpdesk"), CORS_ORIGINS=f"http://127.0.0.1:{helpdesk}",
                   FRAME_ANCESTORS=f"'self' http://localhost:{helpdesk}")
    with LiveServer(app) as live:
        yield live


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as driver:
        driver.set_window_size(1280, 900)
        yield driver


def wait(driver, condition, message: str):
    return WebDriverWait(driver, WAIT_S).until(condition, message)


def open_example(driver, host: str, port: int, kb_url: str) -> None:
    driver.switch_to.default_content()
    driver.get(f"http://{host}:{port}/sidebar-example.html?kb={kb_url}")
    wait(driver, lambda d: d.execute_script("return document.readyState") == "complete", "example did not load")


def enter_panel(driver) -> None:
    driver.switch_to.default_content()
    wait(driver, lambda d: d.execute_script(
        "var f = document.getElementById('kb'); try { return f.contentDocument === null && f.src !== ''; }"
        " catch (e) { return true; }"), "the panel has no cross-origin document")
    driver.switch_to.frame(driver.find_element(By.ID, "kb"))
    wait(driver, lambda d: d.execute_script("return document.readyState === 'complete' && !!document.getElementById('message')"),
         "kb's suggest page did not load in the frame")


def parent_log(driver) -> list[dict]:
    driver.switch_to.default_content()
    lines = driver.find_element(By.ID, "log").get_attribute("textContent").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_the_ticket_reaches_the_panel_and_a_suggestion_appears(browser, helpdesk, kb):
    open_example(browser, "127.0.0.1", helpdesk, kb.url)
    enter_panel(browser)
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-top-suggestion]"), "no suggestion in the panel")
    assert browser.find_element(By.ID, "message").get_property("value") == EXCHANGE_MESSAGE
    assert browser.find_element(By.CSS_SELECTOR, "[data-ticket-id]").get_property("value") == TICKET_ID
    top = browser.find_element(By.CSS_SELECTOR, "[data-top-suggestion]").get_attribute("data-article-id")
    assert top == INTERNAL_ID

    wait(browser, lambda d: any(m["type"] == "kb:suggested" for m in parent_log(d)), "the parent heard no kb:suggested")
    messages = parent_log(browser)
    assert [m["type"] for m in messages] == ["kb:ready", "kb:suggested"]
    suggested = messages[1]
    assert suggested["ticket_id"] == TICKET_ID and suggested["articles"][0]["id"] == INTERNAL_ID
    assert suggested["articles"][0]["url"] == f"{kb.url}/articles/{INTERNAL_ID}"


def test_copy_for_reply_in_the_panel_holds_no_step_and_reaches_the_reply(browser, helpdesk, kb):
    open_example(browser, "127.0.0.1", helpdesk, kb.url)
    enter_panel(browser)
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-top-suggestion] [data-copy-kind=reply]"),
         "no Copy for reply")
    button = browser.find_element(By.CSS_SELECTOR, "[data-top-suggestion] [data-copy-kind=reply]")
    copied = button.get_attribute("data-copy")
    steps = browser.execute_script(
        "return Array.from(document.querySelectorAll('[data-top-suggestion] ol.steps li'), e => e.firstChild.textContent.trim())")
    assert len(steps) >= 8  # the eight steps and their details
    assert not [s for s in steps if plain_text(s) in copied]
    assert copied.startswith("Returns policy: ")
    button.send_keys("\n")  # by keyboard: Enter on the focused button
    wait(browser, lambda d: "copied" in d.execute_script(
        "return arguments[0].nextElementSibling.textContent", button), "the copy was not confirmed")
    browser.switch_to.default_content()
    wait(browser, lambda d: d.find_element(By.ID, "reply").get_property("value") == copied,
         "kb:copied did not fill the helpdesk's reply")
    assert [m for m in parent_log(browser) if m["type"] == "kb:copied"][0]["kind"] == "reply"


def test_feedback_in_the_panel_carries_the_ticket(browser, helpdesk, kb):
    open_example(browser, "127.0.0.1", helpdesk, kb.url)
    enter_panel(browser)
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-top-suggestion] [data-outcome=not_helpful]"),
         "no feedback buttons")
    browser.find_element(By.CSS_SELECTOR, "[data-top-suggestion] [data-outcome=not_helpful]").click()
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-top-suggestion] [data-comment-send]"), "no comment box")
    browser.find_element(By.CSS_SELECTOR, "[data-top-suggestion] [data-comment-send]").click()
    wait(browser, lambda d: "recorded" in d.find_element(
        By.CSS_SELECTOR, "[data-top-suggestion] .feedback-status").text, "feedback not recorded")
    with kb.server.app.test_client() as client:
        rows = client.get("/api/v1/reports/feedback").get_json()["feedback"]
    assert (rows[0]["article_id"], rows[0]["ticket_id"]) == (INTERNAL_ID, TICKET_ID)


def probe_next_message(driver) -> None:
    """In the panel: listen after kb.js, so by the time the probe hears a message kb has handled it."""
    driver.execute_script(
        "window.__heard = 0; window.addEventListener('message', function () { window.__heard += 1; });")


def panel_state(driver) -> tuple[str, str, list[str]]:
    """The message box, the status line and the request id of every suggestion shown."""
    return driver.execute_script(
        "return [document.getElementById('message').value, document.querySelector('[data-suggest-status]').textContent,"
        " Array.from(document.querySelectorAll('[data-feedback]'), e => e.dataset.requestId)]")


def test_a_ticket_from_an_origin_kb_does_not_allow_is_ignored(browser, helpdesk, kb):
    open_example(browser, "localhost", helpdesk, kb.url)
    enter_panel(browser)  # localhost may frame kb (FRAME_ANCESTORS) but is not in CORS_ORIGINS
    probe_next_message(browser)
    browser.switch_to.default_content()
    assert parent_log(browser) == []  # kb never said kb:ready to an origin it does not allow
    browser.find_element(By.ID, "send").click()
    enter_panel(browser)
    wait(browser, lambda d: d.execute_script("return window.__heard") >= 1, "the message never arrived")
    assert panel_state(browser) == ["", "", []]


OTHER_TEXT = "Where is my parcel? It was due on Monday."


@pytest.mark.parametrize(
    "message",
    [
        {"type": "kb:ticket", "text": 42},
        {"type": "kb:ticket", "text": "   "},
        {"type": "kb:ticket", "text": OTHER_TEXT, "ticket_id": "<img src=x>"},
        {"type": "kb:ticket", "text": OTHER_TEXT, "ticket_id": 7},
        {"type": "kb:other", "text": OTHER_TEXT},
        {"text": OTHER_TEXT},
        [OTHER_TEXT],
        OTHER_TEXT,
    ],
    ids=["text-number", "text-blank", "ticket-markup", "ticket-number", "other-type", "no-type", "array", "string"],
)
def test_a_ticket_of_the_wrong_shape_is_ignored(browser, helpdesk, kb, message):
    open_example(browser, "127.0.0.1", helpdesk, kb.url)
    enter_panel(browser)
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-top-suggestion]"), "the example's own ticket")
    before = panel_state(browser)
    probe_next_message(browser)
    browser.switch_to.default_content()
    browser.execute_script("document.getElementById('kb').contentWindow.postMessage(arguments[0], arguments[1]);",
                           message, kb.url)
    enter_panel(browser)
    wait(browser, lambda d: d.execute_script("return window.__heard") >= 1, "the message never arrived")
    assert panel_state(browser) == before
    # The control: the same panel takes a well-formed ticket from the same parent.
    browser.switch_to.default_content()
    browser.execute_script("document.getElementById('kb').contentWindow.postMessage(arguments[0], arguments[1]);",
                           {"type": "kb:ticket", "text": OTHER_TEXT}, kb.url)
    enter_panel(browser)
    wait(browser, lambda d: panel_state(d)[0] == OTHER_TEXT and panel_state(d)[2] != before[2], "the control was ignored")


def test_the_panel_fits_380_px_without_horizontal_scrolling(browser, helpdesk, kb):
    open_example(browser, "127.0.0.1", helpdesk, kb.url)
    enter_panel(browser)
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-top-suggestion]"), "no suggestion in the panel")
    width = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[1] <= 380 and width[0] <= width[1]
