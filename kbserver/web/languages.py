"""Which way text runs and what language it is in, for the page's `lang` and `dir` attributes,
and the one line that says a message and its answer are in different languages.

The answers' JSON names both languages: a suggest answer's `language` is the customer
message's (detected), and every article reference carries its article's `lang` (front matter,
default "en"). The page marks article text with that `lang` and its direction, and leaves the
English chrome left to right. kb.js renders the same line from the same tables, which the
page hands it on `<body>` (`page_language_data`).
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

DEFAULT_LANG = "en"
# Languages written right to left (primary subtags): Arabic, Persian, Hebrew, Urdu, Pashto,
# Sindhi, Yiddish, Dhivehi, Sorani Kurdish, Uyghur.
RTL_LANGS = frozenset({"ar", "fa", "he", "ur", "ps", "sd", "yi", "dv", "ckb", "ug"})
# Names of the languages articles are written in; a message's own language is named by the
# answer (`language.name`), so this table need only cover what authors write.
LANG_NAMES = {
    "en": "English", "ta": "Tamil", "te": "Telugu", "fa": "Persian", "ar": "Arabic", "he": "Hebrew",
    "ur": "Urdu", "hi": "Hindi", "bn": "Bengali", "kn": "Kannada", "ml": "Malayalam", "fr": "French",
    "de": "German", "es": "Spanish", "it": "Italian", "nl": "Dutch", "pl": "Polish", "pt": "Portuguese",
    "cy": "Welsh", "zh": "Chinese", "ja": "Japanese", "ko": "Korean",
}
UNDETERMINED = "und"


def primary_subtag(lang: str | None) -> str:
    """`fa-IR` -> `fa`; empty or missing -> the default language."""
    return (str(lang or "") or DEFAULT_LANG).split("-")[0].lower()


def text_dir(lang: str | None) -> str:
    """`rtl` for a language written right to left, else `ltr` (an article's language is declared)."""
    return "rtl" if primary_subtag(lang) in RTL_LANGS else "ltr"


def lang_name(lang: str | None) -> str:
    """The English name of an article language (`fa` -> `Persian`); an unknown code is itself."""
    code = primary_subtag(lang)
    return LANG_NAMES.get(code, code)


def text_attrs(lang: str | None) -> Markup:
    """` lang="fa" dir="rtl"`: the attributes for a piece of article text in `lang`."""
    return Markup(' lang="{}" dir="{}"').format(escape(str(lang or DEFAULT_LANG)), text_dir(lang))


def language_notice(answer: dict[str, Any]) -> dict[str, str] | None:
    """The one line shown above a suggest answer about languages, or None when there is nothing
    to say: `{"kind": "uncovered"|"differs", "text": ...}`.

    `uncovered`: no encoder of the build knows the message's language, so whatever is listed
    matched on words alone. `differs`: the message and the first suggested article are in
    different languages ("Message in Tamil · procedure in English")."""
    language = answer.get("language") or {}
    code = primary_subtag(language.get("code") or UNDETERMINED)
    if language and language.get("covered") is False:
        return {"kind": "uncovered", "text": f"This message is in {_message_label(language)}, which kb's encoders "
                                             "do not cover: the articles below are keyword matches only."}
    suggestions = answer.get("suggestions") or []
    if not language or code == UNDETERMINED or not suggestions:
        return None
    article = suggestions[0]["article"]
    if primary_subtag(article.get("lang")) == code:
        return None
    what = "closest articles" if answer.get("no_confident_match") else article.get("type") or "article"
    name = language.get("name") or code
    return {"kind": "differs", "text": f"Message in {name} · {what} in {lang_name(article.get('lang'))}"}


def _message_label(language: dict[str, Any]) -> str:
    """`Amharic (Ethiopic script)`, or `the Tifinagh script` when the language has no name."""
    name, script = language.get("name"), language.get("script")
    if name and name not in ("Undetermined", language.get("code")):
        return f"{name} ({script} script)" if script else name
    return f"the {script} script" if script else "a language kb cannot tell"


def page_language_data() -> dict[str, Any]:
    """The tables kb.js needs to render the same attributes and line as the server."""
    return {"rtl": sorted(RTL_LANGS), "names": LANG_NAMES}
