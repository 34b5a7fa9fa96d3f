"""Suggest shows a choice when it is not sure (scoring.ambiguity), in the API, on the page
and, keyboard only, in real headless Chromium at 380 and 1280 px.

The knowledge base here is built for the case: two near-identical card-refund procedures
(any message about a card refund scores them within the margin) and two clearly distinct
articles, so which message is ambiguous does not hang on a tuned score.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from indexer.article import Article
from kbserver.retrieval import scoring
from kbserver.retrieval.scoring import DEFAULT_PARAMS, Ranked, ambiguity

from chromium import AXE, axe_violations, headless_chromium, needs_chromium
from conftest import build_into, make_app, recording_feedback_server

REFUND_MESSAGE = "Hi, I paid by card and my refund still hasn't reached my card, can you check where it is?"
CLEAR_MESSAGE = "I moved house last week, can you send my order to my new address instead?"
CARD, DEBIT = "payments/refund-to-a-card", "payments/refund-to-a-debit-card"

FRONT = """\
---
title: {title}
type: {type}
summary: {summary}
owner: Payments team
tags: [{tags}]
audience: public
updated: 2026-10-01
review_by: 2027-10-01
---
{intro}

## Steps
{steps}
"""

ARTICLES = {
    CARD: dict(
        title="Refund a card payment", type="procedure", tags="refund, card",
        summary="Check where a refund to a customer's card is and when it will reach the card.",
        intro="Use this when a customer paid by card and is waiting for the refund to reach the card.",
        steps="1. Find the refund in Order Hub.\n2. Read the refund date and the card's last four digits to the customer.\n"
              "3. Explain that a refund takes up to 5 working days to reach the card.",
    ),
    DEBIT: dict(
        title="Refund a debit card payment", type="procedure", tags="refund, debit card",
        summary="Check where a refund to a customer's debit card is and when it will reach the card.",
        intro="Use this when a customer paid by debit card and is waiting for the refund to reach the card.",
        steps="1. Find the refund in Order Hub.\n2. Read the refund date and the debit card's last four digits to the customer.\n"
              "3. Explain that a refund takes up to 5 working days to reach the debit card.",
    ),
    "delivery/change-delivery-address": dict(
        title="Change a delivery address", type="procedure", tags="delivery, address",
        summary="Send an order that has not left the warehouse to a different address after the customer moves.",
        intro="Use this when a customer has moved or gave the wrong address and the order has not been dispatched.",
        steps="1. Find the order in Order Hub.\n2. Check it has not been dispatched.\n3. Change the delivery address and confirm it.",
    ),
    "account/reset-a-password": dict(
        title="Reset a password", type="procedure", tags="account, password, sign in",
        summary="Help a customer who cannot sign in to their account set a new password.",
        intro="Use this when a customer forgot their password or is locked out of their account.",
        steps="1. Confirm the customer's email address.\n2. Send the password reset link.\n3. Stay on the line until they are signed in.",
    ),
}


@pytest.fixture(scope="module")
def choice_index(tmp_path_factory, onnx_model) -> Path:
    articles = tmp_path_factory.mktemp("choice-articles")
    for article_id, fields in ARTICLES.items():
        path = articles / f"{article_id}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(FRONT.format(**fields), encoding="utf-8")
    root = tmp_path_factory.mktemp("choice-index")
    build_into(articles, root, onnx_model)
    return root


@pytest.fixture
def choice_client(choice_index, tmp_path):
    return make_app(choice_index, tmp_path).test_client()


def suggest(client, text: str, **extra) -> dict:
    response = client.post("/api/v1/suggest", json={"text": text, **extra})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# ---------------------------------------------------------------------------- the rule


def ranked(article_type: str, score: float, name: str) -> Ranked:
    article = Article(id=f"x/{name}", path=f"x/{name}.md", title=name, type=article_type, summary="", owner="T",
                      aliases=("alias",))
    return Ranked(article=article, score=score, semantic=score, keyword=0.0, best_row=-1)


def test_a_runner_up_within_the_margin_makes_a_choice_of_every_close_result():
    results = [ranked("procedure", 0.80, "a"), ranked("procedure", 0.78, "b"), ranked("procedure", 0.775, "c"),
               ranked("procedure", 0.70, "d")]
    unsure = ambiguity(results)
    assert unsure is not None and unsure.reason == "close_scores"
    assert [r.article.id for r in unsure.choice] == ["x/a", "x/b", "x/c"]


def test_a_clear_lead_is_one_answer():
    assert ambiguity([ranked("procedure", 0.80, "a"), ranked("procedure", 0.76, "b")]) is None
    assert ambiguity([ranked("procedure", 0.80, "a")]) is None


def test_a_fact_page_on_top_of_a_close_procedure_is_a_choice():
    for fact in ("policy", "product"):
        unsure = ambiguity([ranked(fact, 0.80, "rule"), ranked("procedure", 0.75, "do")])
        assert unsure is not None and unsure.reason == "fact_page_first"
        assert [r.article.id for r in unsure.choice] == ["x/rule", "x/do"]
    # A procedure on top, or a procedure beyond the fact-page margin, is one answer.
    assert ambiguity([ranked("procedure", 0.80, "do"), ranked("policy", 0.75, "rule")]) is None
    assert ambiguity([ranked("policy", 0.80, "rule"), ranked("procedure", 0.73, "do")]) is None


def test_no_confident_match_is_never_a_choice():
    low = DEFAULT_PARAMS.no_match_threshold or scoring.NO_MATCH_THRESHOLD
    results = [ranked("procedure", low - 0.05, "a"), ranked("procedure", low - 0.06, "b")]
    assert ambiguity(results) is None


def test_the_margins_are_parameters_the_suite_can_sweep():
    results = [ranked("procedure", 0.80, "a"), ranked("procedure", 0.76, "b")]
    wider = dataclasses.replace(DEFAULT_PARAMS, ambiguity_margin=0.05)
    assert ambiguity(results, wider) is not None


# ---------------------------------------------------------------------------- the API and the page


def test_suggest_says_when_it_is_not_sure_and_between_which(choice_client):
    data = suggest(choice_client, REFUND_MESSAGE)
    assert data["no_confident_match"] is False
    assert data["ambiguous"] is True
    assert data["ambiguity"]["reason"] == "close_scores"
    ids = [s["article"]["id"] for s in data["suggestions"]]
    assert set(data["ambiguity"]["articles"]) == {CARD, DEBIT}
    assert ids[: len(data["ambiguity"]["articles"])] == data["ambiguity"]["articles"]
    # Every candidate carries its whole procedure, to be opened in place.
    assert all(s["steps"] for s in data["suggestions"][:2])


def test_a_clear_message_is_one_answer(choice_client):
    data = suggest(choice_client, CLEAR_MESSAGE)
    assert data["ambiguous"] is False and data["ambiguity"] is None
    assert data["suggestions"][0]["article"]["id"] == "delivery/change-delivery-address"


def test_limit_one_has_nothing_to_choose_between(choice_client):
    data = suggest(choice_client, REFUND_MESSAGE, limit=1)
    assert data["ambiguous"] is False and data["ambiguity"] is None
    assert len(data["suggestions"]) == 1


def test_the_page_lists_the_candidates_before_any_procedure(choice_client):
    html = choice_client.post("/suggest", data={"text": REFUND_MESSAGE}).get_data(as_text=True)
    assert "Which of these fits?" in html
    assert "data-top-suggestion" not in html
    choice = html[html.index("data-choice>"):]
    assert choice.count("<details class=\"choice-details\">") == 2
    assert "Refund a card payment" in choice and "Refund a debit card payment" in choice
    assert "Not this one" in choice
    # Without JavaScript the whole procedure is still there, inside each candidate.
    assert choice.count("class=\"steps\"") == 2


def test_the_page_keeps_one_answer_for_a_clear_message(choice_client):
    html = choice_client.post("/suggest", data={"text": CLEAR_MESSAGE}).get_data(as_text=True)
    assert "data-top-suggestion" in html and "Which of these fits?" not in html


# ---------------------------------------------------------------------------- keyboard only, in Chromium


@pytest.fixture(scope="module")
def choice_server(choice_index, tmp_path_factory):
    with recording_feedback_server(make_app(choice_index, tmp_path_factory.mktemp("choice-browser"))) as live:
        yield live


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as driver:
        yield driver


def active(driver):
    return driver.switch_to.active_element


@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize("width", [380, 1280])
def test_an_agent_chooses_by_keyboard_alone(browser, choice_server, width):
    choice_server.feedback_sent.clear()
    browser.set_window_size(width, 900)
    browser.get(choice_server.url + "/suggest")
    wait = WebDriverWait(browser, 15)
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
    box = active(browser)
    assert box.get_attribute("id") == "message"  # the message box has focus on load
    box.send_keys(REFUND_MESSAGE)
    box.send_keys(Keys.CONTROL, Keys.ENTER)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "[data-choice] [data-choice-item]"))
    items = browser.find_elements(By.CSS_SELECTOR, "[data-choice-item]")
    assert {i.get_attribute("data-article-id") for i in items} == {CARD, DEBIT}
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-top-suggestion]")
    first_id = items[0].get_attribute("data-article-id")

    # Tab from the message box reaches the first candidate; Enter opens its whole procedure.
    for _ in range(10):
        active(browser).send_keys(Keys.TAB)
        if active(browser).tag_name == "summary":
            break
    summary = active(browser)
    assert summary.find_element(By.XPATH, "ancestor::li").get_attribute("data-article-id") == first_id
    summary.send_keys(Keys.ENTER)
    details = summary.find_element(By.XPATH, "..")
    wait.until(lambda d: details.get_attribute("open") is not None)
    steps = details.find_elements(By.CSS_SELECTOR, "ol.steps > li")
    assert len(steps) == 3 and all(s.is_displayed() for s in steps)
    if AXE.exists():  # scripts/bootstrap --test installs axe-core
        browser.set_script_timeout(60)
        assert axe_violations(browser) == []
    # Nothing sticks out of a 380 px panel.
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width
    summary.send_keys(Keys.ENTER)  # fold it again
    wait.until(lambda d: details.get_attribute("open") is None)

    # Tab on to its "Not this one", Enter: recorded as not helpful, and focus moves to the next candidate.
    active(browser).send_keys(Keys.TAB)
    button = active(browser)
    assert button.get_attribute("data-not-this-one") is not None
    assert button.get_attribute("aria-label").startswith("Not this one: ")
    button.send_keys(Keys.ENTER)
    wait.until(lambda d: choice_server.feedback_sent)
    assert choice_server.feedback_sent[0]["article_id"] == first_id
    assert choice_server.feedback_sent[0]["outcome"] == "not_helpful"
    assert choice_server.feedback_sent[0]["request_id"]
    wait.until(lambda d: "choice-dismissed" in items[0].get_attribute("class"))
    wait.until(lambda d: active(d).tag_name == "summary")
    assert active(browser).find_element(By.XPATH, "ancestor::li").get_attribute("data-article-id") != first_id
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def test_eval_explain_names_the_choice(choice_index):
    from click.testing import CliRunner

    from kbserver.cli import main

    result = CliRunner().invoke(main, ["eval", "--index", str(choice_index), "--explain", REFUND_MESSAGE, "--json"])
    assert result.exit_code == 0, result.output
    explained = json.loads(result.output)
    assert explained["ambiguity"]["reason"] == "close_scores"
    assert set(explained["ambiguity"]["articles"]) == {CARD, DEBIT}
    table = CliRunner().invoke(main, ["eval", "--index", str(choice_index), "--explain", REFUND_MESSAGE])
    assert "a choice (close_scores)" in table.output
