"""Signing in, in real headless Chromium, against the suite's OpenID Connect provider (issue 29).

With anonymous access off: an agent signs in on the page and does what the anonymous agent did
(suggest with internal articles, feedback, copy) at 1280 and 380 px; a lead opens the reports; the
helpdesk's side panel (docs/sidebar-example.html, served from another origin) signs the agent in
through a pop-up, or takes a session its helpdesk's server asked kb for.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from test_auth import EXCHANGE_ARTICLE, EXCHANGE_MESSAGE, sso_settings
from test_helpdesk_browser import QuietHandler, enter_panel, open_example, parent_log  # noqa: F401

from chromium import headless_chromium, needs_chromium
from conftest import ROOT, LiveServer, make_app, sql_rows

pytestmark = [pytest.mark.browser, needs_chromium]

WAIT_S = 30


def wait(driver, condition, message: str):
    return WebDriverWait(driver, WAIT_S).until(condition, message)


@pytest.fixture(scope="module")
def helpdesk():
    import functools
    import threading
    from http.server import ThreadingHTTPServer

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(ROOT / "docs")))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture(scope="module")
def kb(kb_index, tmp_path_factory, oidc_provider, helpdesk):
    folder = tmp_path_factory.mktemp("signin-browser")
    app = make_app(kb_index, folder, CORS_ORIGINS=f"http://127.0.0.1:{helpdesk}",
                   FRAME_ANCESTORS=f"'self' http://localhost:{helpdesk}", **sso_settings(oidc_provider))
    with LiveServer(app) as live:
        oidc_provider.register_redirect_uri(f"{live.url}/signin/callback")
        live.database = str(folder / "kb.sqlite3")
        live.app = app
        yield live


@pytest.fixture
def browser():
    with headless_chromium() as driver:  # a fresh profile per test: no sign-in carries over
        driver.set_window_size(1280, 900)
        yield driver


def provider_login(driver, username: str) -> None:
    wait(driver, lambda d: d.find_elements(By.NAME, "username"), "the provider's login form did not appear")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(f"pw-{username}")
    driver.find_element(By.NAME, "password").submit()


def sign_in_on_the_page(driver, kb, username: str, path: str) -> None:
    driver.get(kb.url + path)
    wait(driver, lambda d: d.find_elements(By.ID, "signin-sso"), "no sign-in page for an anonymous browser")
    driver.find_element(By.ID, "signin-sso").click()
    provider_login(driver, username)
    wait(driver, lambda d: d.current_url.startswith(kb.url + path.split("?")[0]), "did not come back to kb")


@pytest.mark.parametrize("width", [1280, 380])
def test_a_signed_in_agent_suggests_gives_feedback_and_copies(browser, kb, width):
    browser.set_window_size(width, 900)
    sign_in_on_the_page(browser, kb, "alice", "/suggest")
    assert "Alice" in browser.find_element(By.CSS_SELECTOR, ".who-name").text
    box = browser.find_element(By.ID, "message")
    box.send_keys(EXCHANGE_MESSAGE)
    box.submit()
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-top-suggestion]"), "no suggestion")
    top = browser.find_element(By.CSS_SELECTOR, "[data-top-suggestion]")
    assert top.get_attribute("data-article-id") == EXCHANGE_ARTICLE  # internal: the agent role holds `internal`
    button = browser.find_element(By.CSS_SELECTOR, "[data-top-suggestion] [data-outcome=resolved_first_contact]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()
    wait(browser, lambda d: "recorded" in d.find_element(
        By.CSS_SELECTOR, "[data-top-suggestion] .feedback-status").text.lower(), "feedback not recorded")
    rows = sql_rows(kb.database, "SELECT caller, outcome FROM feedback WHERE outcome = 'resolved_first_contact'")
    assert {"caller": "alice@example.com", "outcome": "resolved_first_contact"} in rows
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE" and kb.url in e["message"]]


def test_a_lead_opens_the_reports_after_signing_in(browser, kb):
    sign_in_on_the_page(browser, kb, "lena", "/reports")
    wait(browser, lambda d: d.find_elements(By.ID, "agents-heading"), "the reports did not open for a lead")
    assert browser.find_element(By.CSS_SELECTOR, "nav").text.count("Reports") == 1


def test_the_panel_signs_the_agent_in_through_a_pop_up(browser, kb, helpdesk):
    open_example(browser, "127.0.0.1", helpdesk, kb.url)
    enter_panel(browser)
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-signin-button]"), "the panel offers no sign-in")
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-top-suggestion]")  # nothing shown before signing in
    main = browser.current_window_handle
    browser.find_element(By.CSS_SELECTOR, "[data-signin-button]").click()
    wait(browser, lambda d: len(d.window_handles) == 2, "no sign-in pop-up")
    browser.switch_to.window([h for h in browser.window_handles if h != main][0])
    provider_login(browser, "alice")
    wait(browser, lambda d: len(d.window_handles) == 1, "the pop-up did not close after signing in")
    browser.switch_to.window(main)
    enter_panel(browser)
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-top-suggestion]"),
         "the ticket was not answered once signed in")
    assert browser.find_element(By.CSS_SELECTOR, "[data-top-suggestion]").get_attribute("data-article-id") == EXCHANGE_ARTICLE
    rows = sql_rows(kb.database, "SELECT kind, person FROM sessions WHERE kind = 'panel'")
    assert {"kind": "panel", "person": "alice@example.com"} in rows


def test_the_helpdesk_hands_the_panel_a_session_of_its_agent(browser, kb, helpdesk):
    from kbserver.access import tokens
    from kbserver.store.db import connect

    db = connect(kb.database)
    _, helpdesk_token = tokens.create(db, f"helpdesk-{id(browser)}", "delegate", created_by="test")
    db.close()
    with kb.app.test_client() as client:  # what the helpdesk's server does when an agent opens a ticket
        made = client.post("/api/v1/sessions", headers={"Authorization": f"Bearer {helpdesk_token}"},
                           json={"person": "sam@example.com", "name": "Sam"}).get_json()
    open_example(browser, "127.0.0.1", helpdesk, kb.url)
    enter_panel(browser)
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-signin-button]"), "the panel offers no sign-in")
    browser.switch_to.default_content()
    browser.execute_script(
        "document.getElementById('kb').contentWindow.postMessage({type: 'kb:session', token: arguments[0]}, arguments[1]);",
        made["token"], kb.url)
    enter_panel(browser)
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-top-suggestion]"), "the session did not sign the panel in")
    button = browser.find_element(By.CSS_SELECTOR, "[data-top-suggestion] [data-outcome=helpful]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()
    wait(browser, lambda d: "recorded" in d.find_element(
        By.CSS_SELECTOR, "[data-top-suggestion] .feedback-status").text.lower(), "feedback not recorded")
    assert {"caller": "sam@example.com"} in sql_rows(kb.database, "SELECT caller FROM feedback WHERE outcome = 'helpful'")


def test_a_session_from_an_origin_kb_does_not_allow_is_ignored(browser, kb, helpdesk):
    from kbserver.access import tokens
    from kbserver.store.db import connect

    db = connect(kb.database)
    _, helpdesk_token = tokens.create(db, f"other-{id(browser)}", "delegate", created_by="test")
    db.close()
    with kb.app.test_client() as client:
        made = client.post("/api/v1/sessions", headers={"Authorization": f"Bearer {helpdesk_token}"},
                           json={"person": "mallory@example.com"}).get_json()
    open_example(browser, "localhost", helpdesk, kb.url)  # localhost: may frame kb, not talk to it
    enter_panel(browser)
    browser.switch_to.default_content()
    browser.execute_script(
        "document.getElementById('kb').contentWindow.postMessage({type: 'kb:session', token: arguments[0]}, arguments[1]);",
        made["token"], kb.url)
    enter_panel(browser)
    browser.find_element(By.ID, "message").send_keys(EXCHANGE_MESSAGE)
    browser.find_element(By.ID, "message").submit()
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-signin-button], .signin-prompt button"),
         "an ignored session should leave the panel asking for sign-in")
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-top-suggestion]")
