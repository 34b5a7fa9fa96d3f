"""Did-you-mean and typo repair stay within a word's own script: the speller is English, and a
Tamil, Telugu or Persian word is never "corrected" into an English one, nor dropped."""

from __future__ import annotations

import pytest

from kbserver.retrieval.reader import open_snapshot
from kbserver.retrieval.spelling import Speller, fix_typos

NON_LATIN = ["வாடிக்கையாளர் பணத்தைத்", "కస్టమర్ సర్వీస్ డబ్బు", "می‌خواهم پولم را", "بيمه"]


@pytest.mark.parametrize("message", NON_LATIN)
def test_fix_typos_leaves_words_of_other_scripts_as_typed(message):
    speller = Speller(["refund", "received", "delivery"])
    counts = {"refund": 5, "received": 3, "delivery": 2}
    assert fix_typos(message, speller, counts, words=set()) == message
    assert fix_typos(f"{message} recieved", speller, counts, words=set()) == f"{message} received"


@pytest.mark.parametrize("message", NON_LATIN)
def test_did_you_mean_passes_words_of_other_scripts_through(kb_index, message):
    view = open_snapshot(kb_index).view(True)
    assert view.did_you_mean(message) is None  # nothing to correct: no suggestion
    assert view.did_you_mean(f"{message} refnud") == f"{message} refund"


def test_did_you_mean_reads_english_as_before(kb_index):
    view = open_snapshot(kb_index).view(True)
    assert view.did_you_mean("refnud recieved 55123") == "refund received"
    assert view.did_you_mean("café refnud") == "caf refund"  # [A-Za-z]+, as it always read
