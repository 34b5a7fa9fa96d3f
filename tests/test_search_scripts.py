"""Keyword search in every script, end to end: a build of a Tamil, a Telugu and a Persian article
(tests/data/scripts) is found in its own words by keyword search, by steered search (phrases and
fields, through the Whoosh index) and highlighted with <mark> around those words."""

from __future__ import annotations

import re

import pytest

from conftest import ROOT, build_into, make_app

SCRIPTS = ROOT / "tests" / "data" / "scripts"


@pytest.fixture(scope="module")
def client(tmp_path_factory, onnx_model):
    root = tmp_path_factory.mktemp("scripts-index")
    build_into(SCRIPTS, root, onnx_model)
    return make_app(root, tmp_path_factory.mktemp("scripts-db")).test_client()


def search(client, q: str, mode: str = "keyword") -> dict:
    response = client.get("/api/v1/search", query_string={"q": q, "mode": mode, "limit": 10})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def ids(data: dict) -> list[str]:
    return [r["article"]["id"] for r in data["results"]]


def marked(data: dict) -> list[str]:
    """The words the top result's snippet marks."""
    return re.findall(r"<mark[^>]*>(.*?)</mark>", data["results"][0]["snippet"])


PLAIN = [
    ("வாடிக்கையாளர் பணத்தைத் திரும்பப் பெற விரும்புகிறார்", "tamil/refund"),
    ("ரசீது", "tamil/refund"),
    ("కస్టమర్ సర్వీస్ డబ్బు వాపసు", "telugu/refund"),
    ("రసీదు", "telugu/refund"),
    ("میخواهم پولم را پس بگیرم", "persian/refund"),    # typed without the ZWNJ
    ("میخواهم", "persian/refund"),                       # the article writes می‌خواهم
    ("رسيد", "persian/refund"),                          # Arabic yeh
    ("55123", "persian/refund"),                         # the article writes ۵۵۱۲۳
]


@pytest.mark.slow
@pytest.mark.parametrize("q, article_id", PLAIN)
def test_an_article_is_found_by_its_own_words(client, q, article_id):
    assert ids(search(client, q)) == [article_id]


@pytest.mark.slow
@pytest.mark.parametrize("q, article_id, word", [
    ("பணத்தைத்", "tamil/refund", "பணத்தைத்"),
    ("డబ్బు", "telugu/refund", "డబ్బు"),
    ("رسید", "persian/refund", "رسید"),
    ("٥٥١٢٣", "persian/refund", "۵۵۱۲۳"),
])
def test_the_snippet_marks_whole_words_as_written(client, q, article_id, word):
    data = search(client, q)
    assert ids(data)[0] == article_id
    assert word in marked(data)


@pytest.mark.slow
@pytest.mark.parametrize("q, article_id", [
    ('"பணத்தைத் திரும்பப் பெற"', "tamil/refund"),
    ("title:கொள்கை", "tamil/refund"),
    ('"డబ్బు వాపసు"', "telugu/refund"),
    ("title:విధానం", "telugu/refund"),
    ('"پولم را پس بگیرم"', "persian/refund"),
    ("title:بازپرداخت", "persian/refund"),
    ("heading:رسيد", "persian/refund"),
    ("وجه*", "persian/refund"),
])
def test_steered_search_reads_every_script(client, q, article_id):
    data = search(client, q)
    assert data["steered"] is True, q
    assert ids(data) == [article_id]


@pytest.mark.slow
def test_a_phrase_in_the_wrong_order_is_not_steered_to_the_article(client):
    # The phrase is checked against Whoosh's positions: reversed, the Tamil words are no phrase.
    data = search(client, '"பெற திரும்பப்"')
    assert data["steered"] is False
