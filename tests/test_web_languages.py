"""The page's language line and text direction (kbserver/web/languages.py), from answer JSON."""

from __future__ import annotations

import pytest

from kbserver.web import languages

TAMIL = {"code": "ta", "name": "Tamil", "confidence": 0.99, "script": "Tamil", "mixed": False,
         "encoder": "multilingual-e5-small", "covered": True}


def answer(language, article_lang="en", no_match=False, article_type="procedure"):
    article = {"id": "returns/refund-not-received", "type": article_type, "lang": article_lang}
    return {"language": language, "no_confident_match": no_match, "suggestions": [{"article": article}]}


def test_a_tamil_message_answered_in_english_names_both_languages():
    assert languages.language_notice(answer(TAMIL)) == {"kind": "differs", "text": "Message in Tamil · procedure in English"}


def test_a_message_in_the_articles_language_needs_no_line():
    english = {**TAMIL, "code": "en", "name": "English", "script": "Latin"}
    assert languages.language_notice(answer(english)) is None
    assert languages.language_notice(answer(TAMIL, article_lang="ta-IN")) is None


@pytest.mark.parametrize("language", [None, {**TAMIL, "code": "und", "name": "Undetermined"}])
def test_no_line_when_the_language_is_unknown_or_too_short_to_tell(language):
    assert languages.language_notice(answer(language)) is None


def test_without_a_confident_match_the_line_speaks_of_the_closest_articles():
    notice = languages.language_notice(answer(TAMIL, no_match=True, article_type="policy"))
    assert notice == {"kind": "differs", "text": "Message in Tamil · closest articles in English"}


def test_a_language_no_encoder_covers_says_the_matches_are_keywords_only():
    uncovered = {**TAMIL, "code": "am", "name": "Amharic", "script": "Ethiopic", "covered": False}
    notice = languages.language_notice(answer(uncovered, no_match=True))
    assert notice is not None and notice["kind"] == "uncovered"
    assert notice["text"].startswith("This message is in Amharic (Ethiopic script), which kb's encoders do not cover")
    assert "keyword matches only" in notice["text"]


@pytest.mark.parametrize(("lang", "expected"), [("fa", "rtl"), ("fa-IR", "rtl"), ("ar", "rtl"), ("he", "rtl"),
                                                ("ur", "rtl"), ("en", "ltr"), ("ta", "ltr"), ("te", "ltr"), (None, "ltr")])
def test_article_text_runs_the_way_its_language_is_written(lang, expected):
    assert languages.text_dir(lang) == expected
    assert f'dir="{expected}"' in languages.text_attrs(lang)
