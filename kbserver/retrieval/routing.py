"""Which encoder ranks a message: MiniLM for English, multilingual-e5-small for the rest.

all-MiniLM-L6-v2 knows English only, and is 4-5 points of hit@1 better than
multilingual-e5-small on English messages; e5 knows about 100 languages and matches a Tamil
message to the English procedure (docs/languages.md). So each message's language is detected
(indexer.language) and:

- an English message (or one too short to tell) is ranked by MiniLM against English articles
  exactly as before, and by e5 against articles in other languages (`mixed`);
- any other message is ranked by e5 against every article (`me5`), when the build has e5's
  vectors (a multilingual build, KB_MULTILINGUAL=on);
- a message in a language no encoder of the build knows is `covered: false`: the answer says so
  and never claims a confident match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from indexer import language, multilingual
from kbserver.retrieval.reader import Snapshot

ENCODERS = ("auto", "minilm", "me5")
MINILM = "minilm"
ME5 = multilingual.SPACE
MIXED = "mixed"
NAMES = {MINILM: "all-MiniLM-L6-v2", ME5: "multilingual-e5-small", MIXED: "all-MiniLM-L6-v2 + multilingual-e5-small"}
# Scripts of the languages multilingual-e5-small was trained on (XLM-RoBERTa's 100 languages):
# a message mostly in another script (Tifinagh, Cherokee, Ol Chiki...) is embedded as unknown
# tokens, so its ranking would mean nothing.
E5_SCRIPTS = frozenset({
    "Latin", "Cyrillic", "Greek", "Arabic", "Hebrew", "Armenian", "Georgian", "Devanagari", "Bengali",
    "Gurmukhi", "Gujarati", "Oriya", "Tamil", "Telugu", "Kannada", "Malayalam", "Sinhala", "Thai", "Lao",
    "Myanmar", "Khmer", "Ethiopic", "Han", "Hiragana", "Katakana", "Hangul", "Mongolian", "Tibetan", "",
})


@dataclass(frozen=True)
class Route:
    """How one message is ranked: its detected language and the encoder that embeds it."""

    lang: str  # BCP 47 primary subtag, "und" when too short to tell
    lang_name: str
    confidence: float
    script: str
    mixed_script: bool
    encoder: str  # MINILM, ME5 or MIXED
    covered: bool  # False: no encoder of this build knows the message's language

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.lang, "name": self.lang_name, "confidence": round(self.confidence, 3), "script": self.script,
            "mixed": self.mixed_script, "encoder": NAMES[self.encoder], "covered": self.covered,
        }


ENGLISH = Route("en", "English", 1.0, "Latin", False, MINILM, True)


def route(snapshot: Snapshot, text: str, forced: str = "auto") -> Route:
    """The route of `text` on `snapshot` (module docstring). `forced` names an encoder for
    measurements (`kb eval --encoder`); the language is still detected and reported."""
    found = language.detect(text)
    has_e5 = ME5 in snapshot.spaces
    # Too short to tell counts as English only in Latin letters (an order number, "ok"): a
    # Tifinagh or Syriac text no detector knows is not English.
    english = found.code == "en" or (found.code == "und" and found.script in ("", "Latin"))
    covered = True
    if forced == ME5 and has_e5:
        encoder = ME5
    elif forced == MINILM or (english and (snapshot.all_english or not has_e5)):
        encoder = MINILM
        covered = english or forced == MINILM
    elif english:
        encoder = MIXED
    elif has_e5 and found.script in E5_SCRIPTS:
        encoder = ME5
    else:
        encoder, covered = MINILM, False
    mixed = bool(found.to_json().get("mixed", False))
    return Route(found.code, found.name, float(found.confidence), found.script, mixed, encoder, covered)
