"""The agents' page in a real headless Chromium (Debian's `chromium` + `chromium-driver`).

One browser and one server serve the whole module; each test starts from a fresh page.
Waits are conditions with a deadline, never sleeps.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from chromium import headless_chromium, needs_chromium
from conftest import make_app, recording_feedback_server

WAIT_S = 15

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]

INTERNAL_ID = "returns/wrong-size-exchange"
EXCHANGE_MESSAGE = "Hi, the walking boots I ordered are too small. Can I swap them for a bigger size? Thanks, Sam"
OFF_TOPIC_MESSAGE = "What will the weather be like on Mars tomorrow afternoon?"


@pytest.fixture(scope="module")
def server(kb_index, tmp_path_factory):
    """The app on a real port, with the feedback endpoint wrapped to record what the page sent."""
    with recording_feedback_server(make_app(kb_index, tmp_path_factory.mktemp("web-browser"))) as live:
        yield live


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as driver:
        yield driver


class Page:
    """The browser pointed at the live server, with the waits the tests need."""

    def __init__(self, driver, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url

    def open(self, path: str) -> Page:
        self.driver.get(self.base_url + path)
        WebDriverWait(self.driver, WAIT_S).until(lambda d: d.execute_script("return document.readyState") == "complete")
        return self

    def wait(self, condition, message: str = ""):
        return WebDriverWait(self.driver, WAIT_S).until(condition, message)

    def wait_for(self, css: str):
        return self.wait(ec.visibility_of_element_located((By.CSS_SELECTOR, css)), f"nothing visible at {css}")

    def find(self, css: str):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def active_id(self) -> str:
        return self.driver.switch_to.active_element.get_attribute("id")

    def press(self, *keys: str) -> None:
        ActionChains(self.driver).send_keys(*keys).perform()

    def texts(self, css: str) -> list[str]:
        """The text of every match, read in one call (kb.js may replace the nodes between calls)."""
        script = "return Array.from(document.querySelectorAll(arguments[0]), e => e.textContent.trim())"
        return self.driver.execute_script(script, css)

    def type_query(self, text: str) -> None:
        """Type into the search box and wait for the results of the whole query (not of a prefix)."""
        self.find("#q").send_keys(text)
        self.wait(lambda d: self.texts("#result-status")[0].endswith(f"for “{text}”"), f"no results for {text!r}")

    def result_titles(self) -> list[str]:
        return self.texts("a.result-link .result-title")

    def severe_console_entries(self) -> list[dict]:
        return [e for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]


@pytest.fixture
def page(browser, server) -> Page:
    browser.set_window_size(1280, 900)
    browser.get("about:blank")
    browser.get_log("browser")  # drop what earlier tests logged
    return Page(browser, server.url)


# ---------------------------------------------------------------------------- search


def test_search_box_is_focused_on_load(page):
    page.open("/")
    assert page.active_id() == "q"


def test_typing_a_query_shows_results_as_you_type(page):
    page.open("/")
    page.type_query("refund")
    assert page.result_titles()[0] == "Refund policy"
    assert page.find_all(".snippet mark"), "no highlighted snippet"
    assert page.driver.current_url == page.base_url + "/search?q=refund"
    assert page.severe_console_entries() == []


def test_type_filter_narrows_results_as_you_choose_it(page):
    page.open("/?q=refund")
    page.find("#filter-type option[value=procedure]").click()
    page.wait(lambda d: "type=procedure" in d.current_url, "the filter did not search")
    page.wait(lambda d: set(page.texts(".result-meta .badge")) == {"procedure"}, "other types are still listed")
    assert page.result_titles()


def test_arrow_keys_and_enter_open_a_result(page):
    page.open("/")
    page.type_query("refund")
    titles = page.result_titles()
    assert len(titles) >= 2
    page.press(Keys.ARROW_DOWN)
    assert page.driver.switch_to.active_element.text == titles[0]
    page.press(Keys.ARROW_DOWN)
    assert page.driver.switch_to.active_element.text == titles[1]
    page.press(Keys.ARROW_UP, Keys.ARROW_UP)
    assert page.active_id() == "q"
    page.press(Keys.ARROW_DOWN, Keys.ENTER)
    page.wait(lambda d: "/articles/" in d.current_url, "Enter did not open the result")
    assert page.wait_for("h1").text == titles[0]


def test_escape_clears_the_search(page):
    page.open("/?q=refund")
    assert page.result_titles()
    page.find("#q").send_keys(Keys.ESCAPE)
    page.wait(lambda d: not page.result_titles(), "Escape did not clear the results")
    assert page.find("#q").get_attribute("value") == ""
    assert page.wait_for("[data-empty-state]")


def test_slash_focuses_the_search_box_from_any_page(page):
    page.open(f"/articles/{INTERNAL_ID}")
    assert page.active_id() != "header-q"
    page.press("/")
    assert page.active_id() == "header-q"
    page.press("refund", Keys.ENTER)
    page.wait(lambda d: page.result_titles(), "the header search did not search")


def test_did_you_mean_appears_for_a_misspelling(page):
    page.open("/")
    page.type_query("refnd")
    assert page.texts(".did-you-mean a") == ["refund"]


# ---------------------------------------------------------------------------- article


def test_article_shows_every_step(page):
    page.open(f"/articles/{INTERNAL_ID}")
    steps = page.find_all("#section-steps .steps-html > ol > li")
    assert len(steps) == 8
    assert all(step.is_displayed() for step in steps)
    assert steps[0].text.startswith("Confirm the order number")
    for callout in ("exceptions", "what_you_can_offer", "escalation", "follow_up"):
        assert page.find(f"#section-{callout}").is_displayed()
    assert page.severe_console_entries() == []


def test_copy_button_copies_the_steps_as_text(page):
    page.open(f"/articles/{INTERNAL_ID}")
    page.driver.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": page.base_url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    button = page.wait_for(".copy-button[data-copy-kind=steps]")
    button.click()
    page.wait(lambda d: page.find(".section-steps .copy-status").text == "Steps copied.", "copy did not report success")
    copied = page.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];navigator.clipboard.readText().then(done, e => done('ERR ' + e));"
    )
    assert copied == button.get_attribute("data-copy")
    assert copied.startswith("1. Confirm the order number")


def test_copy_link_copies_the_articles_full_url(page):
    page.open("/articles/returns/returns-policy")
    page.driver.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": page.base_url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    page.wait_for(".copy-button[data-copy-kind=link]").send_keys("\n")  # by keyboard
    page.wait(lambda d: page.find(".share-actions .copy-status").text == "Link copied.", "copy did not report success")
    copied = page.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];navigator.clipboard.readText().then(done, e => done('ERR ' + e));"
    )
    assert copied == f"{page.base_url}/articles/returns/returns-policy"


def test_follow_up_checklist_counts_what_is_ticked(page):
    page.open(f"/articles/{INTERNAL_ID}")
    progress = page.find("#section-follow_up .checklist-progress")
    assert progress.text == "0 of 4 done"
    page.find("#section-follow_up label[for='follow-up-1']").click()
    assert page.find("#follow-up-1").is_selected()
    assert progress.text == "1 of 4 done"


# ---------------------------------------------------------------------------- suggest


def _suggest(page: Page, message: str) -> None:
    page.open("/suggest")
    page.driver.execute_script("window.kbNoReload = true")
    box = page.find("#message")
    assert page.active_id() == "message"
    box.send_keys(message)
    box.send_keys(Keys.CONTROL, Keys.ENTER)


def test_pasting_a_message_suggests_the_procedure_with_every_step(page, server):
    _suggest(page, EXCHANGE_MESSAGE)
    top = page.wait_for("[data-top-suggestion]")
    assert page.driver.execute_script("return window.kbNoReload") is True, "the page reloaded instead of using the API"
    assert top.get_attribute("data-article-id") == INTERNAL_ID
    assert page.find(".suggestion-title").text == "Exchange an item for a different size"
    steps = page.find_all("[data-top-suggestion] ol.steps > li")
    assert len(steps) == 8
    assert steps[0].text.startswith("Confirm the order number")
    assert steps[7].text.startswith("Log the exchange reference")
    assert [e.text for e in page.find_all("[data-top-suggestion] .callout h3")] == [
        "Exceptions",
        "What you can offer",
        "Escalation",
        "Follow-up",
    ]
    assert [e.text for e in page.find_all("[data-top-suggestion] .linked a")][:1] == ["Returns policy"]
    assert page.find_all(".runner-up"), "no runner-ups"
    assert page.severe_console_entries() == []


def test_no_confident_match_says_what_to_do(page):
    _suggest(page, OFF_TOPIC_MESSAGE)
    notice = page.wait_for("[data-no-match]")
    assert "No confident match" in notice.text
    assert "Search manually" in notice.text
    assert "report a content gap" in notice.text
    assert page.find_all("[data-top-suggestion]") == []


def test_feedback_on_a_suggestion_posts_the_outcome(page, server):
    _suggest(page, EXCHANGE_MESSAGE)
    page.wait_for("[data-top-suggestion] [data-feedback] button[data-outcome=helpful]").click()
    status = page.find("[data-top-suggestion] .feedback-status")
    page.wait(lambda d: status.text == "Thanks, your feedback is recorded.", "feedback was not confirmed")
    sent = server.feedback_sent[-1]
    assert sent["article_id"] == INTERNAL_ID
    assert sent["outcome"] == "helpful"
    assert re.fullmatch(r"[0-9a-f]{32}", sent["request_id"])


def test_feedback_by_keyboard_keeps_the_focus(page, server):
    # A button disabled under the keyboard's focus drops it to <body>: the next Tab starts over.
    _suggest(page, EXCHANGE_MESSAGE)
    button = page.wait_for("[data-top-suggestion] [data-feedback] button[data-outcome=not_helpful]")
    page.driver.execute_script("arguments[0].focus()", button)
    page.press(Keys.ENTER)  # opens the comment box, focused
    assert page.driver.switch_to.active_element.tag_name == "textarea"
    page.press(Keys.TAB, Keys.ENTER)  # Send, with no comment
    status = page.find("[data-top-suggestion] .feedback-status")
    page.wait(lambda d: status.text == "Thanks, your feedback is recorded.", "feedback was not confirmed")
    active = page.driver.switch_to.active_element
    assert active.tag_name == "button" and active.get_attribute("data-outcome") == "not_helpful"
    assert active.get_attribute("aria-pressed") == "true" and active.get_attribute("aria-disabled") == "true"
    count = len(server.feedback_sent)
    page.press(Keys.ENTER)  # a second press sends nothing more
    assert len(server.feedback_sent) == count
    assert "comment" not in server.feedback_sent[-1]


def test_not_helpful_sends_the_comment_typed_in_its_box(page, server):
    _suggest(page, EXCHANGE_MESSAGE)
    page.wait_for("[data-top-suggestion] [data-feedback] button[data-outcome=not_helpful]").click()
    box = page.wait_for("[data-top-suggestion] .feedback-comment textarea")
    assert page.driver.switch_to.active_element == box
    label = page.find("[data-top-suggestion] .feedback-comment label")
    assert label.get_attribute("for") == box.get_attribute("id")
    box.send_keys("steps skip the exchange label; call 07700 900123")
    box.send_keys(Keys.CONTROL, Keys.ENTER)  # Ctrl+Enter sends, as in a helpdesk reply box
    status = page.find("[data-top-suggestion] .feedback-status")
    page.wait(lambda d: "comment are recorded" in status.text, "the comment was not confirmed")
    sent = server.feedback_sent[-1]
    assert (sent["outcome"], sent["comment"]) == ("not_helpful", "steps skip the exchange label; call 07700 900123")
    assert not page.find_all("[data-top-suggestion] .feedback-comment")  # closed, focus back on its button
    assert page.driver.switch_to.active_element.get_attribute("data-outcome") == "not_helpful"
    with server.server.app.test_client() as client:  # stored redacted
        comments = [f["comment"] for f in client.get("/api/v1/reports/feedback").get_json()["feedback"]]
    assert "steps skip the exchange label; call <phone>" in comments


def test_escape_closes_the_comment_box_and_sends_nothing(page, server):
    _suggest(page, EXCHANGE_MESSAGE)
    count = len(server.feedback_sent)
    page.wait_for("[data-top-suggestion] [data-feedback] button[data-outcome=not_helpful]").click()
    page.wait_for("[data-top-suggestion] .feedback-comment textarea")
    page.press(Keys.ESCAPE)
    assert not page.find_all("[data-top-suggestion] .feedback-comment")
    assert page.driver.switch_to.active_element.get_attribute("aria-expanded") == "false"
    assert len(server.feedback_sent) == count


# ---------------------------------------------------------------------------- nothing typed runs


XSS_PAYLOADS = [
    "<script>window.kbXss=1</script>",
    '"><img src=x onerror="window.kbXss=1">',
    "<svg onload=window.kbXss=1>",
    '<iframe src="javascript:window.kbXss=1"></iframe>',
    "'-alert(1)-'<a href=\"javascript:window.kbXss=1\">x</a>",
]


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_typed_markup_never_runs(page, payload):
    def assert_nothing_ran():
        injected = "#results img, #results svg, #results iframe, #suggestion img, #suggestion iframe"
        assert page.driver.execute_script(f"return window.kbXss === undefined && !document.querySelector('{injected}')")
        assert not ec.alert_is_present()(page.driver)

    page.open("/?" + urlencode({"q": payload}))  # rendered by the server
    assert page.find("#q").get_attribute("value") == payload
    assert_nothing_ran()
    box = page.find("#q")
    box.send_keys(Keys.ESCAPE)
    box.send_keys(payload)  # rendered by kb.js from the API's JSON
    page.wait(lambda d: payload in page.find("#result-status").text, "the typed query was not searched")
    assert_nothing_ran()
    _suggest(page, payload)
    page.wait(lambda d: page.find_all("[data-no-match], [data-top-suggestion]"), "no suggestion rendered")
    assert_nothing_ran()


# ---------------------------------------------------------------------------- narrow side panel


@pytest.mark.parametrize("path", ["/?q=refund", f"/articles/{INTERNAL_ID}", "/suggest"])
def test_narrow_side_panel_needs_no_horizontal_scrolling(page, path):
    page.driver.set_window_size(380, 800)
    page.open(path)
    width = page.driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[1] <= 380
    assert width[0] <= width[1]
