"""Articles in other languages: `lang:`, the lint warning when the text reads otherwise, and
the conventional sections' headings in Tamil, Telugu and Persian."""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path

import pytest

from indexer.article import CONVENTIONAL_SECTIONS, LOCALISED_SECTIONS, Article, section_items, section_key
from indexer.parse import parse_text
from indexer.store import read_articles, write_articles

TODAY = dt.date(2026, 6, 1)
KEYS = ("steps", "exceptions", "what_you_can_offer", "escalation", "follow_up")


def procedure(lang_line: str, title: str, summary: str, headings: dict[str, str], steps: list[str], item: str) -> str:
    body = "\n".join(f"{i}. {s}" for i, s in enumerate(steps, start=1))
    return (
        f"---\ntitle: {title}\ntype: procedure\nsummary: {summary}\nowner: Returns team\n{lang_line}"
        f"aliases: [{title}]\n---\n\n{summary}\n\n## {headings['steps']}\n{body}\n\n"
        f"## {headings['exceptions']}\n- {item}\n\n## {headings['what_you_can_offer']}\n- {item}\n\n"
        f"## {headings['escalation']}\n{item}\n\n## {headings['follow_up']}\n- {item}\n- {steps[0]}\n"
    )


def primary(lang: str) -> dict[str, str]:
    return {key: headings[0] for key, headings in LOCALISED_SECTIONS[lang].items()}


TAMIL = procedure(
    "lang: ta-IN\n", "பணத்தைத் திருப்பித் தருதல்", "சேதமடைந்த பொருளுக்கு பணத்தைத் திருப்பித் தருவது எப்படி.", primary("ta"),
    ["ஆர்டர் எண்ணை உறுதிப்படுத்தவும்.", "சேதத்தின் புகைப்படத்தைக் கேட்கவும்.", "Order Hub-இல் பணத்தைத் திருப்பித் தரவும்."],
    "குழுத் தலைவர் ஒப்புதல் தேவை.",
)
TELUGU = procedure(
    "lang: te\n", "రీఫండ్ ఇవ్వడం", "పాడైన వస్తువుకు కస్టమర్‌కు డబ్బు తిరిగి ఇవ్వడం ఎలా.", primary("te"),
    ["ఆర్డర్ నంబర్ నిర్ధారించండి.", "పాడైన వస్తువు ఫోటో అడగండి.", "Order Hub లో రీఫండ్ చేయండి."],
    "టీమ్ లీడర్ ఆమోదం అవసరం.",
)
PERSIAN = procedure(
    "lang: fa\n", "بازپرداخت کالای آسیب‌دیده", "چگونه پول مشتری را برای کالای آسیب‌دیده بازگردانیم.", primary("fa"),
    ["شماره سفارش را تأیید کنید.", "از مشتری عکس آسیب را بخواهید.", "بازپرداخت را در Order Hub ثبت کنید."],
    "تأیید سرپرست تیم لازم است.",
)


def parse(text: str, path: str = "articles/returns/refund.md"):
    return parse_text(text, "returns/refund", path, today=TODAY)


@pytest.mark.parametrize(("text", "lang"), [(TAMIL, "ta"), (TELUGU, "te"), (PERSIAN, "fa")])
def test_procedure_in_another_language_has_its_steps_and_conventional_sections(text, lang):
    article, findings = parse(text)
    assert findings == []
    assert article is not None and article.lang == lang
    assert [s.key for s in article.sections] == list(KEYS)
    assert [s.name for s in article.sections] == [LOCALISED_SECTIONS[lang][k][0] for k in KEYS]
    assert [s.n for s in article.steps] == [1, 2, 3]
    assert "Order Hub" in article.steps[2].text
    assert len(section_items(article.section("follow_up").markdown)) == 2


def test_article_without_lang_is_the_default_language():
    article, _ = parse(TAMIL.replace("lang: ta-IN\n", "").replace(primary("ta")["steps"], "Steps"))
    assert article is not None and article.lang == "en"


def test_lang_survives_the_stored_round_trip(tmp_path):
    article, _ = parse(TAMIL)
    assert article is not None
    assert article.to_dict()["lang"] == "ta"
    assert Article.from_dict(article.to_dict()) == article
    write_articles(tmp_path, [article])
    assert read_articles(tmp_path)[0].lang == "ta"
    old = {k: v for k, v in article.to_dict().items() if k != "lang"}  # an article stored before `lang:`
    assert Article.from_dict(old).lang == "en"


@pytest.mark.parametrize("tag", ["fa_IR", "persian", "7", "[fa, en]"])
def test_malformed_lang_is_an_error_at_its_line(tag):
    article, findings = parse(PERSIAN.replace("lang: fa\n", f"lang: {tag}\n"))
    assert article is None
    assert [(f.line, f.severity) for f in findings] == [(6, "error")]
    assert str(findings[0]).startswith("articles/returns/refund.md:6: error: 'lang'")


def test_lang_that_the_text_contradicts_is_a_warning_at_the_lang_line():
    article, findings = parse(TAMIL.replace("lang: ta-IN\n", "lang: fa\n"))
    assert article is not None  # a warning never holds back the build
    assert [str(f) for f in findings] == [
        "articles/returns/refund.md:6: warning: lang: fa but the text reads as Tamil (ta); fix lang: or the text"
    ]


def test_text_in_another_language_than_the_default_is_a_warning_at_line_1():
    _, findings = parse(PERSIAN.replace("lang: fa\n", ""))
    assert [str(f) for f in findings] == [
        "articles/returns/refund.md:1: warning: lang: en (the default) but the text reads as Persian (fa); "
        "fix lang: or the text"
    ]


def test_latin_product_names_and_code_do_not_flip_the_language():
    text = PERSIAN.replace("- تأیید سرپرست", "- Larkspur Plus, Order Hub, Returns portal: `kb lint --strict`\n- تأیید سرپرست")
    text += "\n```\nSELECT * FROM orders WHERE status = 'refunded' AND customer = 'anyone in English'\n```\n"
    _, findings = parse(text)
    assert findings == []


def test_spanish_article_marked_english_is_warned_about():
    spanish = (
        "---\ntitle: Cambiar la talla de un artículo\ntype: policy\nsummary: Cómo cambiar ropa o calzado que no le queda "
        "bien al cliente por otra talla, sin coste.\nowner: Returns team\n---\n\nUsa este procedimiento cuando la ropa o "
        "el calzado no le queda bien al cliente y quiere el mismo artículo en otra talla. Los cambios son gratuitos en "
        "ambos sentidos.\n"
    )
    _, findings = parse(spanish)
    assert [f.message for f in findings] == [
        "lang: en (the default) but the text reads as Spanish (es); fix lang: or the text"
    ]
    _, findings = parse(spanish.replace("owner: Returns team\n", "owner: Returns team\nlang: es-ES\n"))
    assert findings == []


# --- headings ----------------------------------------------------------------------------------


def _variants(heading: str) -> list[str]:
    """The same heading as other keyboards and editors write it."""
    arabic = heading.replace("\u06cc", "\u064a").replace("\u06a9", "\u0643")
    return [
        heading, heading + ":", f"{heading} :", unicodedata.normalize("NFD", heading), unicodedata.normalize("NFKD", heading),
        arabic, heading.replace("\u200c", ""), heading.replace("\u200c", " "), heading.upper(),
    ]


@pytest.mark.parametrize(("heading", "key"), [
    (headings[0], key) for sections in LOCALISED_SECTIONS.values() for key, headings in sections.items()
])
def test_each_languages_heading_is_its_conventional_key_however_it_is_written(heading, key):
    assert {section_key(v) for v in _variants(heading)} == {key}


def test_persian_headings_with_zwnj_and_arabic_letters_are_recognised():
    assert section_key("آنچه مي\u200cتوانيد پيشنهاد دهيد") == "what_you_can_offer"
    assert section_key("آنچه می توانید پیشنهاد دهید:") == "what_you_can_offer"
    assert section_key("آنچه میتوانید پیشنهاد دهید") == "what_you_can_offer"


@pytest.mark.parametrize(("lang", "key", "heading"), [
    (lang, key, heading) for lang, sections in LOCALISED_SECTIONS.items()
    for key, headings in sections.items() for heading in headings[1:]
])
def test_second_headings_are_read_as_the_conventional_section(lang, key, heading):
    text = {"ta": TAMIL, "te": TELUGU, "fa": PERSIAN}[lang].replace(f"## {LOCALISED_SECTIONS[lang][key][0]}\n", f"## {heading}\n")
    article, findings = parse(text)
    assert article is not None and article.section(key) is not None
    assert article.section(key).name == heading
    if key == "steps":  # like `## Procedure`: the steps are a procedure's contract, name them as written
        assert [f.message for f in findings] == [
            f"'## {heading}' read as '## {LOCALISED_SECTIONS[lang]['steps'][0]}': name the section "
            f"{LOCALISED_SECTIONS[lang]['steps'][0]}"
        ]
        assert [s.n for s in article.steps] == [1, 2, 3]
    else:
        assert findings == []


def test_other_non_english_headings_keep_distinct_non_empty_keys():
    keys = [section_key(h) for h in ("சிறப்பு குறிப்புகள்", "கூடுதல் தகவல்", "نکات مهم", "ముఖ్యమైన గమనికలు")]
    assert all(keys) and len(set(keys)) == 4
    assert keys[0] == "சிறப்பு_குறிப்புகள்"


@pytest.mark.parametrize(("heading", "key"), [
    ("Steps", "steps"), ("What you can offer", "what_you_can_offer"), ("Follow-up", "follow_up"),
    ("Exceptions and approvals", "exceptions_and_approvals"), ("Step by step (guide)", "step_by_step_guide"),
    ("Café hours", "caf_hours"), ("C#", "c"), ("¿?", ""), ("The rules ##", "the_rules"),
])
def test_english_and_latin_keys_are_as_before(heading, key):
    assert section_key(heading) == key


def test_every_conventional_section_has_a_heading_in_each_language():
    assert set(LOCALISED_SECTIONS) >= {"ta", "te", "fa"}
    for sections in LOCALISED_SECTIONS.values():
        assert set(sections) == set(CONVENTIONAL_SECTIONS)


def test_render_keys_each_section_of_a_tamil_article_apart():
    from indexer.render import render_article

    text = TAMIL.replace("## பின்தொடர்தல்", "## சிறப்பு குறிப்புகள்\nஒன்று\n\n## கூடுதல் தகவல்\nஇரண்டு\n\n## பின்தொடர்தல்")
    article, _ = parse(text)
    assert article is not None
    rendered = render_article(article)
    assert {"steps", "follow_up", "சிறப்பு_குறிப்புகள்", "கூடுதல்_தகவல்"} <= set(rendered)
    assert "" not in rendered


def test_bundled_articles_have_no_language_findings():
    from indexer.lint import lint_articles

    root = Path(__file__).resolve().parent.parent / "articles"
    result = lint_articles(root)
    assert [str(f) for f in result.findings if "lang" in f.message] == []
    assert {a.lang for a in result.articles} == {"en"}
