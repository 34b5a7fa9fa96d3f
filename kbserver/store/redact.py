"""Replace personal data in free text with typed placeholders before anything is stored.

Every query and feedback comment goes through `redact()` before it reaches the database;
the raw text is never written anywhere. Unicode spaces (no-break, thin, figure) are first
made plain spaces, so a number cannot hide behind one. The rules then run in order, each on
the output of the one before, so a later rule never sees what an earlier one replaced:

    <email>     name@example.co.uk, name@localhost, and spelled out: jane dot doe at example
                dot com, jane.doe(at)example.com, jane [at] example [dot] com
    <iban>      GB82 WEST 1234 5698 7654 32, gb82-west-..., any case and grouping (checked by
                python-stdnum: country, length, format and mod 97)
    <phone>     +44 20 7946 0958, +1 (415) 555-2671, 0044 7700 900123 (international, first,
                so a long "00..." number is not taken for a card)
    <card>      13-19 digits, in any groups split by single spaces, dashes or dots (4111 11 11
                1111 1111, 4111.1111.1111.1111, 4 1 1 1 ...), that pass the Luhn check
                (python-stdnum); a card-shaped number that fails it is left to the rules below
    <cvv>       the 3-4 digits after "cvv", "cvc", "csc", "security code"
    <expiry>    the month/year after "exp", "expiry", "expires", "valid thru"
    <dob>       a date after "born", "DOB", "date of birth", "birthday"
    <password>  the word after "password is", "passcode:", "pin =" and the like
    <nino>      UK National Insurance numbers: QQ 12 34 56 C (any two capitals, six digits,
                A-D), and after "NI number" / "national insurance" in any case
    <phone>     07700 900123, (020) 7946 0958, 415-555-2671 (national)
    <account>   the number after "account", "acct", "a/c", "customer", "member(ship)" or
                "sort code"
    <order>     the reference after "order", "ref", "invoice", "booking", "ticket", "tracking",
                "parcel", "consignment", "return", "RMA" or "#"; codes like LK-4829133 or
                AB123456789GB on their own
    <postcode>  UK postcodes: SW1A 1AA, m1 1ae
    <number>    a card-shaped number no rule above claimed, and any other run of 8 or more
                digits (a mistyped card or an unknown reference is still personal)

Structured numbers are checked by python-stdnum rather than by hand. The rules added for
issue 21 (spelled-out e-mails, context words) use RE2 (google-re2), whose matching time is
linear in the text whatever the pattern; the older rules need look-behind, which RE2 lacks,
and each scans a run once (tests/test_redact.py feeds them 60 KB adversarial texts).

Quantities, prices, dates, times and sizes ("2 jackets", "£20", "12/11/2026", "size 10")
are kept: they carry the meaning of the question and identify nobody. A date is redacted
only after a birth word. Names and street addresses are not detected (see docs/feedback.md).
"""

from __future__ import annotations

import logging
import re
from typing import Any, Callable, Protocol

import re2
from stdnum import iban, luhn


class _Pattern(Protocol):
    def sub(self, repl: Callable[[Any], str], string: str) -> str: ...


Rule = tuple[_Pattern, Callable[[Any], str]]


def luhn_ok(digits: str) -> bool:
    """True when `digits` passes the Luhn checksum used by payment cards."""
    return luhn.is_valid(digits)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def iban_ok(text: str) -> bool:
    """True when `text` (any case, spaces or dashes allowed) is a valid IBAN: country, length, format, mod 97."""
    return iban.is_valid(text.replace("-", " "))


def _card(match: re.Match[str]) -> str:
    """The longest leading run of 13+ digits that passes Luhn ("4111 1111 1111 1111 2 jackets" keeps its 2)."""
    text = match.group(0)
    cuts = [m.start() for m in re.finditer(r"[ .-]", text)] + [len(text)]
    for cut in reversed(cuts):
        digits = _digits(text[:cut])
        if len(digits) < 13:
            break
        if luhn_ok(digits):
            return "<card>" + text[cut:]
    return text


def _iban(match: re.Match[str]) -> str:
    """The longest leading run of groups that is a valid IBAN: a case-blind match may run on into words."""
    text = match.group(0)
    cuts = [m.start() for m in re.finditer(r"[ -]", text)] + [len(text)]
    for cut in reversed(cuts):
        if iban_ok(text[:cut]):
            return "<iban>" + text[cut:]
    return text


def _phone(match: re.Match[str]) -> str:
    return "<phone>" if 9 <= len(_digits(match.group(0))) <= 15 else match.group(0)


def _labelled(placeholder: str) -> Callable[[re.Match[str]], str]:
    """Keep the keyword ("order no. ") and replace only the reference after it."""
    return lambda m: m.group("label") + placeholder


# The reference after a keyword: 4+ digits in a row, letters and dashes allowed ("LK-4829133"),
# and further space-separated groups of 3+ digits ("1234 5678"), but never a lone "2".
_REF = r"(?=[A-Za-z0-9-]*\d{4})[A-Za-z0-9][A-Za-z0-9-]*\d[A-Za-z0-9]*(?:[ ]\d{3,}(?!\w))*"
_LABEL_TAIL = r"(?:\s+(?:no\.?|nos?\.?|number|num|id|ref(?:erence)?|code))?\s*(?:is\s+)?[:#]?\s*"
_CARD_SHAPE = re.compile(
    r"(?<!\d)(?:\d{4}([ -]?)\d{4}\1\d{4}\1\d{4}(?:\1\d{3})?|\d{4}([ -]?)\d{6}\2\d{5}|\d{13,19})(?!\d)"
)
_ACCOUNT_WORDS = r"account|acct|a/c|customer|member(?:ship)?"
_ORDER_WORDS = r"order|ref(?:erence)?|invoice|booking|ticket|tracking|parcel|consignment|return|rma"

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = (
    rf"(?:\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}|\d{{4}}-\d{{1,2}}-\d{{1,2}}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?(?:\s+of)?\s+{_MONTH},?\s+\d{{4}}|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})"
)
_IS = r"\s*(?:(?:is|was|=|:|-)\s*)?"
# Context rules (RE2: linear time): the keyword is kept, the value after it replaced.
_CONTEXT_RULES: tuple[Rule, ...] = (
    (re2.compile(rf"(?i)(?P<label>\b(?:cvv2?|cvc2?|csc|cid|security\s+code)(?:\s+(?:code|number|no\.?))?{_IS})\d{{3,4}}\b"),
     lambda m: m.group("label") + "<cvv>"),
    (re2.compile(r"(?i)(?P<label>\b(?:exp(?:iry|ires|iration)?\.?(?:\s+date)?|valid\s+(?:thru|through|until|to)|expiring)"
                 r"\s*(?:(?:is|on|=|:)\s*)?)(?:0?[1-9]|1[0-2])\s*[/.-]\s*(?:\d{4}|\d{2})\b"),
     lambda m: m.group("label") + "<expiry>"),
    (re2.compile(rf"(?i)(?P<label>\b(?:born(?:\s+on)?|d\.?o\.?b\.?|date\s+of\s+birth|birth\s*date|birthday){_IS}){_DATE}"),
     lambda m: m.group("label") + "<dob>"),
    (re2.compile(r"(?i)(?P<label>\b(?:password|passcode|passwd|pwd|pass\s+word|pin(?:\s+(?:code|number))?)"
                 r"(?:\s+(?:is|was|=|:)\s*|\s*[:=]\s*))[^\s<>]+"),
     lambda m: m.group("label") + "<password>"),
    (re2.compile(r"(?i)(?P<label>\b(?:ni|nino|national\s+insurance)(?:\s+(?:number|no\.?))?{IS})"
                 r"[a-z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[a-d]\b".replace("{IS}", _IS)),
     lambda m: m.group("label") + "<nino>"),
    (re2.compile(r"\b[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b"), lambda m: "<nino>"),
)
# E-mail addresses spelled out to dodge filters. "(at)" and "[at]" always mean an address; a
# plain " at " only when a dot is spelled out or the name has one, so "I looked at amazon.com"
# is kept while "jane.doe at example.com" and "jane at example dot com" are not.
_SEP = r"(?:\.|\s+dot\s+|\s*[(\[{]\s*dot\s*[)\]}]\s*)"
_SPOKEN_SEP = r"(?:\s+dot\s+|\s*[(\[{]\s*dot\s*[)\]}]\s*)"
_LOCAL = rf"\b[\w+-]+(?:{_SEP}[\w+-]+)*"
_DOMAIN = rf"[\w-]+(?:{_SEP}[\w-]+)*{_SEP}[a-z]{{2,}}\b"
_SPELLED_EMAIL = re2.compile(
    rf"(?i){_LOCAL}\s*[(\[{{<]\s*at\s*[)\]}}>]\s*{_DOMAIN}"
    rf"|\b[\w+-]+(?:{_SEP}[\w+-]+)+\s+at\s+{_DOMAIN}"
    rf"|{_LOCAL}\s+at\s+[\w-]+(?:{_SEP}[\w-]+)*{_SPOKEN_SEP}[a-z]{{2,}}\b"
)
# A card's digits in any groups, split by single spaces, dashes or dots; not the middle of a longer run.
_CARD_ANY_GROUPS = re.compile(r"(?<!\d)(?<!\d[ .-])\d(?:[ .-]?\d){12,18}(?!\d)")
_UNICODE_SPACE = re.compile(r"[^\S\n\r\t\v\f ]")  # no-break, thin, figure, ideographic... spaces

RULES: tuple[Rule, ...] = (
    # Starting only where a run of address characters starts keeps the scan linear: a start
    # at every position of a long run without "@" was quadratic (0.3 s on 8,000 characters).
    # The domain may be a single label (name@localhost).
    (re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*"), lambda m: "<email>"),
    (_SPELLED_EMAIL, lambda m: "<email>"),
    (re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ -]?[A-Za-z0-9]{4}){2,7}(?:[ -]?[A-Za-z0-9]{1,3})?(?![A-Za-z0-9])"), _iban),
    # International numbers first: "+44 ..." or "0044 ..." would otherwise look like a card.
    # Groups after the first have 2+ digits, so "+44 7700 900123 2 jackets" keeps its "2".
    (
        re.compile(r"(?<![\w+])(?:\+|00)[1-9]\d{0,2}(?:[ .-]?\(0\))?[ .-]?\(?\d{1,4}\)?(?:[ .-]?\(?\d{2,4}\)?){1,5}(?!\d)"),
        _phone,
    ),
    (_CARD_ANY_GROUPS, _card),
    *_CONTEXT_RULES,
    (
        re.compile(
            r"(?<![\w(])\(?0\d{2,4}\)?[ -]?\d{3,4}[ -]?\d{3,4}(?!\d)"  # UK national: 07700 900123
            r"|(?<![\w(])\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?!\d)"  # North American: (415) 555-2671
        ),
        _phone,
    ),
    (
        re.compile(r"(?P<label>\bsort\s*code\s*(?:is\s+)?[:#]?\s*)\d{2}[ -]?\d{2}[ -]?\d{2}(?!\d)", re.I),
        _labelled("<account>"),
    ),
    (re.compile(rf"(?P<label>\b(?:{_ACCOUNT_WORDS}){_LABEL_TAIL}){_REF}", re.I), _labelled("<account>")),
    (re.compile(rf"(?P<label>\b(?:{_ORDER_WORDS}){_LABEL_TAIL}|#\s*){_REF}", re.I), _labelled("<order>")),
    (re.compile(r"(?<![\w-])[A-Za-z]{1,4}-\d{4,}(?![\w-])|\b[A-Z]{1,4}\d{6,}[A-Z]{0,3}\b"), lambda m: "<order>"),
    (re.compile(r"\b(?:[A-Z]{1,2}\d[A-Z\d]?|GIR) ?\d[ABD-HJLNP-UW-Z]{2}\b", re.I), lambda m: "<postcode>"),
    # Whatever is still card-shaped failed the Luhn check, and no rule claimed it as a reference.
    (_CARD_SHAPE, lambda m: "<number>"),
    (re.compile(r"\d{8,}"), lambda m: "<number>"),
)


def redact(text: str) -> str:
    """`text` with every kind of personal data in the module docstring replaced by its placeholder."""
    text = _UNICODE_SPACE.sub(" ", text)
    for pattern, replace in RULES:
        text = pattern.sub(replace, text)
    return text


class QueryStringFilter(logging.Filter):
    """Drop the query string from access-log lines: `GET /api/v1/search?q=...` carries raw text."""

    _QUERY = re.compile(r"\?\S*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args and isinstance(record.args[0], str):
            record.args = (self._QUERY.sub("?…", record.args[0]), *record.args[1:])
        return True


def install_access_log_filter() -> None:
    """Attach QueryStringFilter to the werkzeug logger once (the dev server and `kb serve` log through it)."""
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, QueryStringFilter) for f in logger.filters):
        logger.addFilter(QueryStringFilter())
