"""Customer messages as ranking sees them: the words that say what the problem is.

Messages reach suggest from chat tools and helpdesks, so besides greetings, sign-offs and
order numbers they carry email cruft: the quoted thread under a reply, forwarded headers,
"Sent from my iPhone", signature blocks and legal disclaimers. A quoted agent reply about
refunds would otherwise pull every message in its thread towards the refund articles.
Nothing here knows the knowledge base; ranking (`kbserver.retrieval.scoring`) uses it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Starts only where a run of address characters starts: with `\b` alone every position inside
# a long run ("XX-XX-XX-...") was a fresh start, and the scan was quadratic (14 s on 90 KB).
_EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_URL_RE = re.compile(r"\bhttps?://\S+|\bwww\.\S+", re.I)
_REF_RE = re.compile(r"\b[A-Z]{1,4}[-/]?\d[\d-]{3,}\b|#?\b\d{5,}\b", re.I)
_PHONE_RE = re.compile(r"(?:\+44\s?|\b0)\d{2,4}[\s-]?\d{3,4}[\s-]?\d{3,4}\b")
# A greeting and whom it addresses ("Hi there,", "Dear Larkspur team,", "Hello Sam!"): at
# most four words, none a pronoun or verb, so "Hi I ordered a sofa, ..." keeps its words.
_ADDRESSEE_WORD = r"(?!(?:i|i'm|i've|i'd|im|ive|my|me|we|our|us|you|your|can|could|please|is|was|have|has|it|its|the|just|so)\b)[\w'&/-]+"
_GREETING_RE = re.compile(
    r"^\s*(?:(?:hi|hiya|hello|hey|dear|good\s+(?:morning|afternoon|evening))\b"
    rf"(?:(?:\s+{_ADDRESSEE_WORD}){{0,4}}\s*[,.!\n:]+|(?:\s+there)?\s*[,.!:]*)\s*)+",
    re.I,
)
_PLEASANTRY_RE = re.compile(
    r"^(?:(?:many\s+)?thanks?(?:\s+you)?(?:\s+(?:so|very)\s+much)?(?:\s+in\s+advance)?(?:\s+for\s+[^.!?]{0,40})?"
    r"|cheers|kind(?:est)?\s+regards|best\s+(?:wishes|regards)|regards|sincerely|yours\s+(?:sincerely|faithfully)"
    r"|hope\s+(?:you(?:'re|\s+are)\s+well|this\s+makes\s+sense)[^.!?]*|look(?:ing)?\s+forward\s+to[^.!?]*"
    r"|sorry\s+to\s+bother\s+you|please\s+help(?:\s+me)?|any\s+help\s+(?:would\s+be|is)\s+(?:much\s+)?appreciated"
    r"|(?:hi|hello|hey)(?:\s+there)?)\W*(?:[A-Z][a-z]+\W*)?$",
    re.I,
)
# A sign-off and the full name after it ending a one-line message ("... Regards, Malcolm
# Reid", "Yours faithfully, R. Patel"): up to four capitalised words or initials, so "Thanks,
# can you cancel it" keeps its words.
_SIGNOFF = (
    r"(?:(?:many\s+)?thanks?(?:\s+you)?(?:\s+(?:so|very)\s+much)?(?:\s+in\s+advance)?|cheers|ta|thx"
    r"|(?:kind(?:est)?|best|warm)\s+(?:regards|wishes)|regards|sincerely|yours\s+(?:sincerely|faithfully|truly)|best)"
)
_NAME = r"(?-i:[A-Z][\w'-]*\.?)"
_SIGNOFF_NAME_RE = re.compile(rf"(?:^|(?<=[.!?]))\s*{_SIGNOFF}\W+{_NAME}(?:\s+{_NAME}){{0,3}}\W*$", re.I)
# What an anonymised or templated message holds where the real value was: "{{Order Number}}",
# "{name}", "[ORDER_ID]", "<EMAIL>", "__email__", and the XXXX of redacted complaints
# ("on XX/XX/2026", "account ending XXXX"). Helpdesk exports and public datasets of customer
# messages are full of them; like a real order number they say nothing about the problem, and
# "order number" left behind matched every article that asks agents to find one.
# In square or angle brackets only an upper-case token with an underscore ([ORDER_ID]) or one
# of these words: "[REFUND REQUEST]" or "[DAMAGED]" is a subject tag with meaning, not a value.
_PLACEHOLDER_WORDS = "(?:NAME|EMAIL|PHONE|ADDRESS|POSTCODE|ZIP|REDACTED|NUMBER|ID|DATE|URL|CARD|ACCOUNT|AMOUNT|PERSON|CUSTOMER)"
_PLACEHOLDER = (
    r"(?-i:\{\{[^{}\n]{1,40}\}\}|\{[A-Za-z][\w .-]{0,30}\}"
    rf"|[\[<](?:[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|{_PLACEHOLDER_WORDS})[\]>]"
    r"|\b__[a-z][a-z_]{0,20}__\b|\b(?:XX/XX/(?:XXXX|\d{4})|X{2,}(?:[-/]X{2,})*)\b)"
)
_PLACEHOLDER_RE = re.compile(_PLACEHOLDER)
# A social-media handle addressing the company ("@LarkspurHelp my parcel ..."): not an email,
# which goes first. A hashtag keeps its word ("#refund" -> "refund").
_HANDLE_RE = re.compile(r"(?<![\w@.])@\w{2,30}\b")
_HASHTAG_RE = re.compile(r"(?<![\w&#])#(?=[A-Za-z]\w*)")
# The label of a reference ("Order number LK-3381029", "Ref: 5512345"), dropped with it: the
# label alone says nothing, and "order number" matched every article that asks agents to find
# one. "Tracking number" stays: it says the parcel is on its way.
_REF_LABEL_RE = re.compile(
    r"\b(?:(?:my|the|your|our)\s+)?(?:(?:order|account|customer|case|ticket|invoice)\s+(?:number|no\.?|num|id|ref(?:erence)?)"
    r"|ref(?:erence)?(?:\s+(?:number|no\.?))?)(?:\s+(?:is|was))?\s*[:#]?\s*"
    rf"(?=(?:{_REF_RE.pattern}|{_PLACEHOLDER}))",
    re.I,
)
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?])\s+|\n+")

# A line that starts the quoted or forwarded part of an email ("On Mon, 3 Mar 2026 at
# 10:15, Larkspur <help@...> wrote:", "-----Original Message-----", Outlook's rule line).
_QUOTE_HEADER_RE = re.compile(
    r"^\s*(?:-{2,}\s*(?:original\s+message|forwarded\s+message)\s*-*|_{8,}|begin\s+forwarded\s+message:?)\s*$"
    r"|^\s*on\s.{4,200}\bwrote:\s*$",
    re.I,
)
_QUOTE_START_RE = re.compile(r"^\s*on\s+\S.{4,200}$", re.I)  # "On ... " wrapped before "wrote:"
_HEADER_FIELD_RE = re.compile(r"^\s*(?:from|sent|date|to|cc|subject)\s*:", re.I)
_MOBILE_FOOTER_RE = re.compile(
    r"^\s*(?:sent\s+(?:from|via|with)\s+(?:my\s+)?\S.{0,40}|get\s+outlook\s+for\s+\S.{0,30})\s*$", re.I
)
_SIGNATURE_DASHES_RE = re.compile(r"^\s*(?:--|\u2014|__)\s*$")
_DISCLAIMER_RE = re.compile(
    r"^\s*(?:(?:this|the\s+information\s+in\s+this)\s+(?:e-?mail|message|communication)\b.{0,120}"
    r"\b(?:confidential|privileged|intended\s+(?:solely|only))"
    r"|if\s+you\s+(?:have\s+)?received\s+this\s+(?:e-?mail|message)\s+in\s+error"
    r"|(?:confidentiality\s+notice|disclaimer)\s*:"
    r"|please\s+consider\s+the\s+environment\s+before\s+printing)",
    re.I,
)
_CLOSING_RE = re.compile(rf"^\s*{_SIGNOFF}\s*[,.!]*\s*$", re.I)


def _is_quote_header(lines: list[str], i: int) -> bool:
    line = lines[i]
    if _QUOTE_HEADER_RE.match(line):
        return True
    if _QUOTE_START_RE.match(line) and i + 1 < len(lines) and lines[i + 1].rstrip().lower().endswith("wrote:"):
        return True
    # An Outlook header block: "From:" followed by Sent/Date/To/Subject within a few lines.
    return bool(
        re.match(r"^\s*from\s*:", line, re.I)
        and sum(bool(_HEADER_FIELD_RE.match(l)) for l in lines[i + 1 : i + 5]) >= 2
    )


def strip_email_cruft(text: str) -> str:
    """The customer's own words of an email: no quoted thread, forwarded headers, signature or disclaimer."""
    lines = text.splitlines()
    if len(lines) < 2:
        return text
    cut = next((i for i in range(len(lines)) if _is_quote_header(lines, i)), len(lines))
    own = [l for l in lines[:cut] if not l.lstrip().startswith(">")]
    if not any(l.strip() for l in own):
        # Written below the quote (or a forward with nothing added above): keep what is not
        # quoted and not a header line.
        below = lines[cut:]
        own = [
            line for i, line in enumerate(below)
            if not line.lstrip().startswith(">") and not _HEADER_FIELD_RE.match(line) and not _is_quote_header(below, i)
        ]
    kept: list[str] = []
    for line in own:
        if _SIGNATURE_DASHES_RE.match(line) or _DISCLAIMER_RE.match(line):
            break  # everything below a signature delimiter or a disclaimer is boilerplate
        if not _MOBILE_FOOTER_RE.match(line):
            kept.append(line)
    # A sign-off followed only by short lines (a name, a job title, a phone number) ends the message.
    for i in range(len(kept) - 1, -1, -1):
        if _CLOSING_RE.match(kept[i]):
            tail = [l for l in kept[i + 1 :] if l.strip()]
            if all(len(l.split()) <= 6 and not l.rstrip().endswith("?") for l in tail):
                kept = kept[:i]
            break
        if kept[i].strip() and (len(kept[i].split()) > 6 or kept[i].rstrip().endswith("?")):
            break
    return "\n".join(kept) if any(l.strip() for l in kept) else text


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in text)


@dataclass(frozen=True)
class CleanedMessage:
    """One customer message as a request sees it, cleaned once (`clean_message`).

    `own_words` is what the length limit counts and the query log keeps (no quoted thread,
    signature or disclaimer); `cleaned` is what ranking embeds and matches.
    """

    text: str
    own_words: str
    cleaned: str

    @property
    def for_ranking(self) -> str:
        """The text ranking uses: the cleaned words, or the message itself when nothing is left."""
        return self.cleaned or self.text.strip()


def clean_message(text: str) -> CleanedMessage:
    """Cut the email cruft off `text` once and clean what is left for ranking.

    Ranking has always cut the printable form of a message (control characters as spaces), the
    limit and the log its raw form: the two differ only when the message holds control
    characters (a CRLF line end too), and only then is the cut made a second time.
    """
    own_words = strip_email_cruft(text)
    printable = _printable(text)
    cut = own_words if printable == text else strip_email_cruft(printable)
    return CleanedMessage(text, own_words, _clean_cut(cut))


def clean_query(text: str) -> str:
    """Strip what carries no meaning for ranking: email cruft, greetings, sign-offs, emails, URLs,
    references and the placeholders that stand for them, handles."""
    return _clean_cut(strip_email_cruft(_printable(text)))


def _clean_cut(text: str) -> str:
    """`clean_query` after the email cruft is gone."""
    text = _EMAIL_RE.sub(" ", text)
    text = _URL_RE.sub(" ", text)
    text = _PHONE_RE.sub(" ", text)
    text = _HANDLE_RE.sub(" ", text)
    text = _HASHTAG_RE.sub("", text)
    text = _REF_LABEL_RE.sub(" ", text)
    text = _PLACEHOLDER_RE.sub(" ", text)
    text = _REF_RE.sub(" ", text)
    text = _GREETING_RE.sub("", text)
    text = _SIGNOFF_NAME_RE.sub("", text.rstrip()) or text
    sentences = [s.strip() for s in _SENTENCE_SPLIT_RE.split(text) if s and s.strip()]
    kept = [s for s in sentences if not _PLEASANTRY_RE.match(s)]
    cleaned = " ".join(kept or sentences)
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    cleaned = re.sub(r"([.!?]) [.,](?= |$)", r"\1", cleaned)  # "please. ." once a reference has gone
    cleaned = re.sub(r" (?=[,.!?;:](?:\s|$))", "", cleaned)  # "order , I" once the number has gone
    return cleaned.lstrip(",.;: ")


# A question about a fact, a rule or a product ("how long is a gift card valid", "does the
# guarantee cover batteries", "which shops do you price match") rather than a problem to
# resolve or a task to do ("can I return it", "is it possible to move my delivery", "my
# parcel is late"). "Is my order lost?" asks about the customer's own case: a task.
_FACT_QUESTION_RE = re.compile(
    r"""^(?:(?:and|so|also|quick\s+question|question|just\s+wondering|i\s+was\s+wondering|wondering)[,:]?\s+)?(?:
        how\s+(?:long|many|much|far|often|soon|quickly)\b
      | what(?:'s|\s+is|\s+are|\s+does|\s+do\s+(?:i|you|we)\s+(?:get|need)|\s+happens|\s+counts|\s+kind|\s+sort|\s+type)\b
      | (?:is|are|does|do|will|would)\s+(?!it\s+possible|there\s+(?:any\s+)?way)
        (?:the|your|a|an|it|there|they|this|that|those|these)\b
        (?![^.?!]*\b(?:return|refund|cancel|change|send|swap|exchange|track|fix|replace|collect|reset|help|sort)\b)
      | when\s+(?:does|do|is|are|will)\b
      | which\b
      | where\s+does\b
    )""",
    re.I | re.X,
)


# The same question in Tamil, Telugu and Persian: words that ask how long, how many, how much,
# when or which (a fact), not how to do something ("எப்படி", "ఎలా", "چطور": a task). Written
# for kb; a language without a row here always reads as a problem to resolve, as before.
_FACT_WORDS = {
    "ta": re.compile(r"எத்தனை|எவ்வளவு|எப்போது|எப்ப\b|எந்த|எவ்வளவு நாள்|செல்லுமா|உண்டா|இருக்கா\?"),
    "te": re.compile(r"ఎన్ని|ఎంత|ఎప్పుడు|ఏ\s|ఉంటుందా|వర్తిస్తుందా"),
    "fa": re.compile(r"چند|چقدر|چه\s*مدت|کی\s|کدام|کدوم|آیا|شامل\s|طول\s*می\s*کشه|طول\s*میکشه"),
}


def asks_for_facts(cleaned: str, lang: str = "en") -> bool:
    """Whether the message asks about a rule or a product rather than for something to be done."""
    words = _FACT_WORDS.get(lang)
    if words is not None:
        return bool(words.search(cleaned))
    return bool(_FACT_QUESTION_RE.match(cleaned))


def content_sentences(cleaned: str, max_sentences: int = 6) -> list[str]:
    """The sentences of a cleaned message worth embedding on their own (long messages only)."""
    sentences = [s.strip() for s in _SENTENCE_SPLIT_RE.split(cleaned) if len(s.split()) >= 3]
    return sentences[:max_sentences] if len(sentences) > 1 else []


