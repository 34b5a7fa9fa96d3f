"""Replace personal data in free text with typed placeholders before anything is stored.

Every query and feedback comment goes through `redact()` before it reaches the database;
the raw text is never written anywhere. The rules run in order, each on the output of the
one before, so a later rule never sees what an earlier one replaced:

    <email>     name@example.co.uk
    <iban>      GB82 WEST 1234 5698 7654 32 (mod-97 checked)
    <phone>     +44 20 7946 0958, +1 (415) 555-2671, 0044 7700 900123 (international, first,
                so a long "00..." number is not taken for a card)
    <card>      13-19 digits, optionally in groups of 4 (Amex 4-6-5), that pass the Luhn check
                (a card-shaped number that fails it is left to the rules below)
    <phone>     07700 900123, (020) 7946 0958, 415-555-2671 (national)
    <account>   the number after "account", "acct", "a/c", "customer", "member(ship)" or
                "sort code"
    <order>     the reference after "order", "ref", "invoice", "booking", "ticket", "tracking",
                "parcel", "consignment", "return", "RMA" or "#"; codes like LK-4829133 or
                AB123456789GB on their own
    <postcode>  UK postcodes: SW1A 1AA, m1 1ae
    <number>    a card-shaped number no rule above claimed, and any other run of 8 or more
                digits (a mistyped card or an unknown reference is still personal)

Quantities, prices, dates, times and sizes ("2 jackets", "£20", "12/11/2026", "size 10")
are kept: they carry the meaning of the question and identify nobody. Names and street
addresses are not detected (see docs/feedback.md).
"""

from __future__ import annotations

import logging
import re
from typing import Callable

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


def luhn_ok(digits: str) -> bool:
    """True when `digits` passes the Luhn checksum used by payment cards."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def iban_ok(text: str) -> bool:
    """True when `text` (spaces allowed) passes the IBAN mod-97 check."""
    compact = text.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _card(match: re.Match[str]) -> str:
    return "<card>" if luhn_ok(_digits(match.group(0))) else match.group(0)


def _iban(match: re.Match[str]) -> str:
    return "<iban>" if iban_ok(match.group(0)) else match.group(0)


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

RULES: tuple[Rule, ...] = (
    # Starting only where a run of address characters starts keeps the scan linear: a start
    # at every position of a long run without "@" was quadratic (0.3 s on 8,000 characters).
    (re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), lambda m: "<email>"),
    (re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])"), _iban),
    # International numbers first: "+44 ..." or "0044 ..." would otherwise look like a card.
    # Groups after the first have 2+ digits, so "+44 7700 900123 2 jackets" keeps its "2".
    (
        re.compile(r"(?<![\w+])(?:\+|00)[1-9]\d{0,2}(?:[ .-]?\(0\))?[ .-]?\(?\d{1,4}\)?(?:[ .-]?\(?\d{2,4}\)?){1,5}(?!\d)"),
        _phone,
    ),
    (_CARD_SHAPE, _card),
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
    """`text` with every email, phone, card, account/order number and postcode replaced by a placeholder."""
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
