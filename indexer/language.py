"""The language of a text: an article's body, a customer's message.

`detect` counts the letters of each Unicode script first. A script that only one language
writes (Tamil, Telugu, Kannada, Thai, ...) names the language outright; for a script several
languages share (Latin, Arabic, Cyrillic, Devanagari, ...) py3langid decides among that
script's languages only. English keeps its messages: a Latin-script text reads as English
unless another language is clearly more likely, because a short English message misread as
Welsh would be routed to another encoder and change English rankings.

py3langid's model ships inside the package; it is checked against a pinned sha256 before it
is loaded (`MODEL_FILES`, which a build manifest can record), and loaded once per process.
"""

from __future__ import annotations

import copy
import functools
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex

from indexer.article import DEFAULT_LANG
from indexer.embedding import ModelError, verify_file

__all__ = ["DEFAULT_LANG", "LANGUAGES", "MODEL_FILES", "Detection", "detect", "language_name", "looks_english", "normalise_tag", "script_of"]
UNDETERMINED = "und"

# English names of the codes `detect` can answer: every label of py3langid's model, plus "und".
LANGUAGES: dict[str, str] = {
    "en": "English", "ta": "Tamil", "te": "Telugu", "fa": "Persian", "und": "Undetermined",
    "af": "Afrikaans", "am": "Amharic", "an": "Aragonese", "ar": "Arabic", "ary": "Moroccan Arabic",
    "arz": "Egyptian Arabic", "as": "Assamese", "ace": "Acehnese", "az": "Azerbaijani", "ba": "Bashkir",
    "bcl": "Central Bikol", "be": "Belarusian", "bg": "Bulgarian", "bn": "Bengali", "br": "Breton",
    "bs": "Bosnian", "ca": "Catalan", "crh": "Crimean Tatar", "cs": "Czech", "cy": "Welsh", "da": "Danish",
    "de": "German", "dz": "Dzongkha", "el": "Greek", "eo": "Esperanto", "es": "Spanish", "et": "Estonian",
    "eu": "Basque", "ext": "Extremaduran", "fi": "Finnish", "fo": "Faroese", "fr": "French",
    "fuv": "Nigerian Fulfulde", "fy": "Western Frisian", "ga": "Irish", "gcf": "Guadeloupean Creole",
    "gcr": "Guianese Creole", "gd": "Scottish Gaelic", "gl": "Galician", "gom": "Goan Konkani",
    "grc": "Ancient Greek", "gu": "Gujarati", "gug": "Paraguayan Guarani", "guw": "Gun", "ha": "Hausa",
    "hbo": "Ancient Hebrew", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "ht": "Haitian Creole",
    "hu": "Hungarian", "hy": "Armenian", "id": "Indonesian", "ig": "Igbo", "is": "Icelandic", "it": "Italian",
    "ja": "Japanese", "jv": "Javanese", "ka": "Georgian", "kab": "Kabyle", "kik": "Kikuyu", "kk": "Kazakh",
    "km": "Khmer", "kn": "Kannada", "ko": "Korean", "ku": "Kurdish", "ky": "Kyrgyz", "la": "Latin",
    "lb": "Luxembourgish", "lg": "Ganda", "lij": "Ligurian", "ln": "Lingala", "lo": "Lao", "lt": "Lithuanian",
    "ltg": "Latgalian", "lv": "Latvian", "mg": "Malagasy", "mk": "Macedonian", "ml": "Malayalam",
    "mn": "Mongolian", "mr": "Marathi", "ms": "Malay", "mt": "Maltese", "my": "Burmese", "ne": "Nepali",
    "nl": "Dutch", "nn": "Norwegian Nynorsk", "no": "Norwegian", "nso": "Northern Sotho", "oc": "Occitan",
    "om": "Oromo", "or": "Odia", "pa": "Punjabi", "pcm": "Nigerian Pidgin", "pl": "Polish", "ps": "Pashto",
    "pt": "Portuguese", "qu": "Quechua", "ro": "Romanian", "ru": "Russian", "rw": "Kinyarwanda",
    "sa": "Sanskrit", "sdh": "Southern Kurdish", "se": "Northern Sami", "si": "Sinhala", "sk": "Slovak",
    "sl": "Slovenian", "sn": "Shona", "so": "Somali", "sq": "Albanian", "sr": "Serbian", "st": "Southern Sotho",
    "sv": "Swedish", "sw": "Swahili", "tg": "Tajik", "th": "Thai", "tk": "Turkmen", "tl": "Tagalog",
    "tr": "Turkish", "tt": "Tatar", "ug": "Uyghur", "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek",
    "uzs": "Southern Uzbek", "vec": "Venetian", "vi": "Vietnamese", "vo": "Volapuk", "wa": "Walloon",
    "wuu": "Wu Chinese", "xh": "Xhosa", "yo": "Yoruba", "yue": "Cantonese", "zh": "Chinese", "zu": "Zulu",
    "zxx": "No linguistic content",
}

# py3langid's model, by its path inside the installed package, and the sha256 it was tested with.
MODEL_PACKAGE = "py3langid"
MODEL_FILE = "data/model.npz.xz"
MODEL_SHA256 = "f4f4a2c3465ca1f081541037f9cac23021d68151c2f709c55ae5eedfca522963"
MODEL_FILES: dict[str, str] = {f"{MODEL_PACKAGE}/{MODEL_FILE}": MODEL_SHA256}

# A Latin-script text is another language than English only when the model gives that
# language at least this probability over at least this many words (docs/languages.md: with
# these, none of the 4,702 English messages of the labelled sets reads as anything else).
LATIN_MIN_CONFIDENCE = 0.9
LATIN_MIN_WORDS = 3
# ...or, over a longer message, a language well ahead with English all but ruled out: Spanish
# splits its probability with Galician and Portuguese ("hola necesito ayuda con mi pedido por
# favor": es 0.79, en 0.0000). Over the 11,549 English messages of the suite (Hinglish among
# them) no message passes either rule (tests/test_language.py).
LATIN_LIKELY_CONFIDENCE = 0.7
LATIN_LIKELY_WORDS = 5
LATIN_MAX_ENGLISH = 0.01
MIN_LETTERS = 3  # fewer letters than this in a script py3langid decides on: "und"
MIXED_SHARE = 0.2  # a second script with this share of the letters makes a text "mixed"
UNIQUE_SCRIPT_CONFIDENCE = 0.99

# Scripts that one language of the model writes: the script is the answer.
_SCRIPT_LANGUAGE = {
    "Tamil": "ta", "Telugu": "te", "Kannada": "kn", "Malayalam": "ml", "Gujarati": "gu", "Gurmukhi": "pa",
    "Oriya": "or", "Sinhala": "si", "Thai": "th", "Lao": "lo", "Khmer": "km", "Myanmar": "my",
    "Georgian": "ka", "Armenian": "hy", "Hangul": "ko", "Hiragana": "ja", "Katakana": "ja",
    "Ethiopic": "am", "Tibetan": "dz",
}
_NOT_ARABIC_LETTERS = regex.compile("[پچژگ]")
_ARABIC_KEYBOARD = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک"})
# Scripts several languages of the model write: py3langid decides among these only.
_SCRIPT_CANDIDATES = {
    "Arabic": ("ar", "ary", "arz", "fa", "ur", "ps", "ug", "uzs", "sdh"),
    "Cyrillic": ("ru", "uk", "be", "bg", "mk", "sr", "kk", "ky", "mn", "tg", "ba", "tt"),
    "Devanagari": ("hi", "mr", "ne", "sa", "gom"),
    "Bengali": ("bn", "as"),
    "Han": ("zh", "ja", "yue", "wuu"),
    "Hebrew": ("he", "hbo"),
    "Greek": ("el", "grc"),
}
# Arabic's regional varieties in the model count as Arabic: a Moroccan customer's message is routed like any Arabic one.
_FOLDED = {"ary": "ar", "arz": "ar"}
_NOT_LATIN = {*_SCRIPT_LANGUAGE.values(), *(c for cs in _SCRIPT_CANDIDATES.values() for c in cs), "zxx"}
_SCRIPTS = (
    "Latin", "Arabic", "Tamil", "Telugu", "Devanagari", "Cyrillic", "Greek", "Hebrew", "Han", "Hiragana",
    "Katakana", "Hangul", *(s for s in _SCRIPT_LANGUAGE if s not in ("Tamil", "Telugu", "Hiragana", "Katakana", "Hangul")),
    "Bengali", "Syriac", "Thaana", "Mongolian",
)
_SCRIPT_RES = tuple((name, regex.compile(rf"\p{{Script={name}}}")) for name in _SCRIPTS)

# What says nothing about the language: links, e-mail addresses, and any token holding a digit
# (order numbers such as LK-4829133, #12345, prices, dates).
_NOISE_RE = re.compile(r"(?:https?://|www\.)\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|[^\s]*\d[^\s]*", re.I)

# RFC 5646's language tag, minus the grandfathered irregular ones (`i-klingon`), lower-cased:
# the primary language subtag (an ISO 639 code) with its extlangs, then script, region,
# variants, extensions and private use.
_TAG_RE = re.compile(
    r"(?P<language>[a-z]{2,3}(?=-|$))(?:-[a-z]{3}){0,3}"
    r"(?:-[a-z]{4})?(?:-(?:[a-z]{2}|[0-9]{3}))?(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*"
    r"(?:-[0-9a-wyz](?:-[a-z0-9]{2,8})+)*(?:-x(?:-[a-z0-9]{1,8})+)?"
)


def normalise_tag(tag: str) -> str:
    """A BCP 47 language tag's primary language subtag, lower-cased: `ta-IN` -> `ta`, `FA` -> `fa`.

    Raises ValueError, with a message that says what is wrong, for anything that is not a
    well-formed tag with an ISO 639 language (`fa_IR`, `english`, `x-klingon`, an empty string).
    """
    text = tag.strip() if isinstance(tag, str) else ""
    if not text:
        raise ValueError("a language tag must be a BCP 47 tag such as 'en', 'ta' or 'fa-IR'")
    if "_" in text:
        raise ValueError(f"'{text}' is not a BCP 47 tag: subtags are separated by '-', not '_' ('{text.replace('_', '-')}')")
    match = _TAG_RE.fullmatch(text.lower())
    if match is None:
        raise ValueError(f"'{text}' is not a BCP 47 language tag: write the language's ISO 639 code, e.g. 'en', 'ta', 'te' or 'fa'")
    return match.group("language")


def language_name(code: str) -> str:
    """The English name of a language code (`ta` -> `Tamil`); an unknown code is its own name."""
    return LANGUAGES.get(code, code)


@functools.lru_cache(maxsize=8192)
def script_of(ch: str) -> str:
    """The Unicode script of one character ("Latin", "Tamil", "Arabic", ...): "" for one that is
    no letter or mark. A combining mark of no one script is "Inherited"."""
    if unicodedata.category(ch)[0] not in "LM":
        return ""
    for name, pattern in _SCRIPT_RES:
        if pattern.match(ch):
            return name
    if unicodedata.category(ch)[0] == "M":
        return "Inherited"
    # Any other script by the first word of the letter's name ("TIFINAGH LETTER YA" -> "Tifinagh"),
    # so a text in it is told apart from a text with no letters (kbserver.retrieval.routing).
    return unicodedata.name(ch, "OTHER").split(" ")[0].title()


def script_shares(text: str) -> dict[str, float]:
    """Each script's share of the letters of `text` (marks count with the letter they sit on), largest first."""
    counts: dict[str, int] = {}
    previous = ""
    for ch in text:
        script = script_of(ch)
        if script == "Inherited":
            script = previous
        if script:
            counts[script] = counts.get(script, 0) + 1
        previous = script
    total = sum(counts.values())
    return {s: n / total for s, n in sorted(counts.items(), key=lambda item: -item[1])} if total else {}


@dataclass(frozen=True)
class Detection:
    """What `detect` makes of a text."""

    code: str  # BCP 47 primary subtag, or "und" when there is too little text to tell
    confidence: float  # 0..1
    script: str  # dominant script of the letters, "" with no letters
    scripts: dict[str, float] = field(default_factory=dict, hash=False)  # share of the letters per script

    @property
    def name(self) -> str:
        return language_name(self.code)

    @property
    def is_mixed(self) -> bool:
        """Whether a second script holds at least `MIXED_SHARE` of the letters."""
        return sum(1 for share in self.scripts.values() if share >= MIXED_SHARE) > 1

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "code": self.code, "name": self.name, "confidence": round(self.confidence, 3), "script": self.script,
        }
        if self.is_mixed:
            data["mixed"] = True
        return data


# English function words: prose where they are this common is English without asking the model
# (lint checks every English article this way, so `kb lint` on an English KB never loads it).
_ENGLISH_WORDS = frozenset(
    "the a an and or of to in on for with is are be it this that you your we our they if not".split()
)
_ASCII_WORD_RE = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")


def looks_english(text: str, *, min_words: int = 20, min_share: float = 0.1) -> bool:
    """Whether `text` is plainly English prose: at least `min_words` words, all letters Latin,
    and English function words at least `min_share` of them (a Spanish or French text has
    almost none). False says nothing: ask `detect`."""
    words = _ASCII_WORD_RE.findall(text)
    if len(words) < min_words or any(ch.isalpha() and not ch.isascii() and script_of(ch) != "Latin" for ch in text):
        return False
    return sum(1 for w in words if w.lower() in _ENGLISH_WORDS) >= min_share * len(words)


def clean_for_detection(text: str) -> str:
    """`text` in NFKC (𝓘 𝔀𝓪𝓷𝓽 -> I want), without links, e-mail addresses and tokens holding digits."""
    return _NOISE_RE.sub(" ", unicodedata.normalize("NFKC", text))


def detect(text: str) -> Detection:
    """The language of `text`: see the module's docstring for how it is decided."""
    cleaned = clean_for_detection(text)
    shares = script_shares(cleaned)
    if not shares:
        return Detection(UNDETERMINED, 0.0, "", {})
    script = next(iter(shares))
    if script == "Latin":
        # A code-mixed message ("என் order இன்னும் deliver ஆகவில்லை"): English loanwords in Latin
        # letters around another script's words. The other script tells the customer's language.
        script = next((other for other, share in shares.items() if other != "Latin" and share >= MIXED_SHARE), script)
    if script in _SCRIPT_LANGUAGE:
        return Detection(_SCRIPT_LANGUAGE[script], UNIQUE_SCRIPT_CONFIDENCE, script, shares)
    # Only the dominant script's words go to the model: a Latin product name inside a Persian
    # sentence is not Persian evidence, nor a Tamil word evidence inside English.
    own = "".join(ch if script_of(ch) in (script, "Inherited", "") else " " for ch in cleaned)
    letters = sum(1 for ch in own if script_of(ch))
    if letters < MIN_LETTERS:
        return Detection(UNDETERMINED, 0.0, script, shares)
    if script == "Arabic" and _NOT_ARABIC_LETTERS.search(own):
        # پ چ ژ گ are not Arabic letters: a Persian (or Urdu) writer on an Arabic keyboard types
        # ي and ك for ی and ک, which py3langid reads as Arabic. Fold them, and leave Arabic out.
        ranked = {c: p for c, p in _identifiers().rank(script, own.translate(_ARABIC_KEYBOARD)).items() if c != "ar"}
        total = sum(ranked.values())
        ranked = {c: p / total for c, p in ranked.items()} if total > 0 else {}
    else:
        ranked = _identifiers().rank(script, own)
    if not ranked:  # a script kb has no languages for (Syriac, Thaana, ...)
        return Detection(UNDETERMINED, 0.0, script, shares)
    code, confidence = max(ranked.items(), key=lambda item: item[1])
    if script == "Latin" and code != DEFAULT_LANG:
        words = len(regex.findall(r"\p{L}[\p{L}\p{M}'’]*", own))
        clear = confidence >= LATIN_MIN_CONFIDENCE and words >= LATIN_MIN_WORDS
        likely = (confidence >= LATIN_LIKELY_CONFIDENCE and words >= LATIN_LIKELY_WORDS
                  and ranked.get(DEFAULT_LANG, 0.0) < LATIN_MAX_ENGLISH)
        if not (clear or likely):
            code, confidence = DEFAULT_LANG, ranked.get(DEFAULT_LANG, 0.0)
    return Detection(code, min(1.0, confidence), script, shares)


class _Identifiers:
    """py3langid's model, loaded once: the whole model for Latin script, and a copy restricted
    to each other script's languages."""

    def __init__(self) -> None:
        from py3langid.langid import LanguageIdentifier  # numpy-heavy: only when something is detected

        path = model_file()
        verify_language_model(path)
        self.full = LanguageIdentifier.from_model_file(path, norm_probs=True)
        self.latin = frozenset(c for c in self.full.labels if c not in _NOT_LATIN)
        # set_languages restricts an identifier in place (and copies only the kept columns), so
        # each script gets its own shallow copy, restricted here before any thread sees it.
        self.by_script: dict[str, Any] = {}
        for script, candidates in _SCRIPT_CANDIDATES.items():
            identifier = copy.copy(self.full)
            identifier.set_languages([c for c in candidates if c in self.full.labels])
            self.by_script[script] = identifier

    def rank(self, script: str, text: str) -> dict[str, float]:
        """Each candidate language of `script` with its probability for `text` (Arabic's varieties folded into "ar")."""
        if script == "Latin":
            # The whole model, renormalised over Latin-script languages: a restricted copy would
            # duplicate most of its 28 MB, and non-Latin languages score next to nothing on Latin text.
            pairs = [(c, p) for c, p in self.full.rank(text) if c in self.latin]
        elif script in self.by_script:
            pairs = self.by_script[script].rank(text)
        else:
            return {}
        ranked: dict[str, float] = {}
        for code, probability in pairs:
            folded = _FOLDED.get(code, code)
            ranked[folded] = ranked.get(folded, 0.0) + float(probability)
        total = sum(ranked.values())
        return {c: p / total for c, p in ranked.items()} if total > 0 else {}


_LOCK = threading.Lock()
_LOADED: list[_Identifiers] = []  # the one per process, once loaded


def _identifiers() -> _Identifiers:
    if not _LOADED:
        with _LOCK:
            if not _LOADED:  # another thread may have loaded it while this one waited
                _LOADED.append(_Identifiers())
    return _LOADED[0]


def model_file() -> Path:
    """Where the installed py3langid keeps its model. Raises ModelError when py3langid is not installed."""
    try:
        import py3langid
    except ImportError as exc:
        raise ModelError("the package py3langid is not installed: pip install py3langid==0.4.0") from exc
    return Path(py3langid.__file__).parent / MODEL_FILE


def verify_language_model(path: Path, expected_sha256: str = MODEL_SHA256) -> None:
    """Raise ModelError unless py3langid's model file at `path` has the pinned checksum."""
    verify_file(path, expected_sha256, "the language model is not the one kb was tested with",
                "reinstall py3langid==0.4.0 (pip install --force-reinstall py3langid==0.4.0)")
