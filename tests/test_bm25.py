"""The precomputed BM25F impacts agree with Whoosh, and did-you-mean corrects from the build's words."""

from __future__ import annotations

import json

import numpy as np
import pytest
from whoosh import query as wq
from whoosh.analysis import StemmingAnalyzer

from indexer import store
from indexer.bm25 import Postings, analyse, analyse_docs, build_term_matrix, impacts, sort_postings
from indexer.keyword import FIELD_BOOSTS, SEARCH_FIELDS, open_keyword_index
from kbserver.retrieval.reader import open_snapshot
from kbserver.retrieval.spelling import Speller, edit_distance, fix_typos

from conftest import ROOT

QUERIES = [json.loads(line)["query"] for line in (ROOT / "tests/eval/queries.jsonl").read_text().splitlines()[:80]]


@pytest.mark.parametrize("text", [
    "I'd like a REFUND for order #12345, it's 3.5kg & broken!!",
    "Hiya, can you change the day for my sofa to come? Thursday's no good any more",
    "e-bike battery won't charge; tried 2 chargers... re-seated it",
    "naïve café déjà-vu über",
    *QUERIES[:20],
])
def test_analyse_makes_the_same_terms_as_whooshs_stemming_analyzer(text):
    assert analyse(text) == [t.text for t in StemmingAnalyzer()(text)]


def test_impacts_score_every_query_as_whoosh_scores_the_same_or_query(sample_index):
    build = store.current_build_path(sample_index)
    matrix = store.read_term_matrix(build)
    row_of = {c.id: i for i, c in enumerate(store.read_chunks(build))}
    searcher = open_keyword_index(build / "whoosh").searcher()
    worst = 0.0
    for text in QUERIES:
        terms = list(dict.fromkeys(analyse(text)))
        ours = matrix.scores(terms)
        theirs = np.zeros(matrix.n_rows)
        for hit in searcher.search(wq.Or([wq.Term(f, t) for f in SEARCH_FIELDS for t in terms]), limit=None):
            theirs[row_of[hit["chunk_id"]]] = hit.score
        assert np.array_equal(ours > 0, theirs > 0), text
        matched = theirs > 0
        if matched.any():
            # Whoosh stores field lengths in one lossy byte; everything else is the same formula.
            worst = max(worst, float(np.max(np.abs(ours[matched] - theirs[matched]) / theirs[matched])))
    assert worst < 0.06


def test_impacts_follow_the_field_boosts_and_sum_over_terms():
    docs = [
        {"title": "Refund policy", "body": "How refunds work."},
        {"title": "Delivery", "body": "A refund may follow a lost parcel."},
        {"title": "Delivery", "body": "Parcels and couriers."},
    ]
    matrix = build_term_matrix(docs, FIELD_BOOSTS)
    refund = matrix.scores(["refund"])
    assert refund[0] > refund[1] > 0 and refund[2] == 0  # a title match outweighs a body match
    both = matrix.scores(["refund", "parcel"])
    assert both[1] == pytest.approx(refund[1] + matrix.scores(["parcel"])[1])
    assert matrix.scores(["refund", "refund"]).tolist() == refund.tolist()  # distinct terms only
    assert not matrix.scores(["unheard"]).any() and "unheard" not in matrix


def test_impacts_are_the_same_whatever_order_the_postings_come_in():
    docs = [{"title": f"Refund {i % 3}", "body": f"refund parcel courier {'lost ' * (i % 4)}day {i}"} for i in range(40)]
    postings = analyse_docs(docs, list(FIELD_BOOSTS))
    in_order = sort_postings(postings)  # what builds store: laid out without a sort
    shuffle = np.random.default_rng(7).permutation(len(postings.rows))
    shuffled = Postings(terms=postings.terms, rows=postings.rows[shuffle], fields=postings.fields[shuffle],
                        term_ids=postings.term_ids[shuffle], counts=postings.counts[shuffle], lengths=postings.lengths)
    a, b = impacts(in_order, FIELD_BOOSTS), impacts(shuffled, FIELD_BOOSTS)
    assert a.terms.tolist() == b.terms.tolist() and a.indptr.tolist() == b.indptr.tolist()
    assert a.rows.tolist() == b.rows.tolist()
    np.testing.assert_allclose(a.impacts, b.impacts, rtol=1e-6)
    assert a.scores(["refund", "lost"]).tolist() == pytest.approx(build_term_matrix(docs, FIELD_BOOSTS).scores(["refund", "lost"]).tolist())


@pytest.mark.parametrize("tail", [0, 1, 7, 30, 400, 1500])
def test_sort_postings_orders_as_a_plain_stable_sort_does(tail):
    rng = np.random.default_rng(tail)
    n, rows = 2000, 300
    terms = np.array([f"t{i:03d}" for i in rng.permutation(50)])
    term_ids, row_ids = rng.integers(0, 50, n), rng.integers(0, rows, n)
    rank = np.argsort(np.argsort(terms, kind="stable"), kind="stable")
    head = np.lexsort((row_ids[: n - tail], rank[term_ids[: n - tail]]))  # a sorted run, then `tail` in any order
    term_ids[: n - tail], row_ids[: n - tail] = term_ids[head], row_ids[head]
    postings = Postings(terms=terms, rows=row_ids.astype(np.int32), fields=rng.integers(0, 3, n).astype(np.int8),
                        term_ids=term_ids.astype(np.int32), counts=np.arange(n, dtype=np.int32),
                        lengths=np.ones((rows, 3)))
    expected = np.argsort(rank[term_ids] * rows + row_ids, kind="stable")
    got = sort_postings(postings)
    assert got.counts.tolist() == postings.counts[expected].tolist()  # counts number the postings
    assert got.rows.tolist() == postings.rows[expected].tolist() and got.fields.tolist() == postings.fields[expected].tolist()


def test_empty_corpus_and_empty_fields_build():
    assert build_term_matrix([], FIELD_BOOSTS).scores(["refund"]).shape == (0,)
    assert build_term_matrix([{"title": ""}], FIELD_BOOSTS).scores(["refund"]).tolist() == [0.0]


@pytest.mark.parametrize("a, b, distance", [
    ("refund", "refund", 0), ("refnd", "refund", 1), ("recieve", "receive", 1),
    ("delivry", "delivery", 1), ("retrun", "return", 1), ("warrenty", "warranty", 1), ("parcle", "parcel", 1),
    ("kitten", "sitting", 3), ("", "abc", 3),
])
def test_edit_distance_counts_a_swap_as_one_edit(a, b, distance):
    assert edit_distance(a, b) == distance == edit_distance(b, a)


def test_speller_prefers_the_closest_then_the_most_used_word():
    speller = Speller(["refund", "refunds", "return", "returned", "retune", "parcel"])
    counts = {"refund": 10, "refunds": 3, "return": 8, "returned": 2, "retune": 1, "parcel": 4}
    assert speller.correct("refnd", counts) == "refund"
    assert speller.correct("retrun", counts) == "return"
    assert speller.correct("parcle", counts) == "parcel"
    assert speller.correct("xyzzy", counts) is None
    assert speller.correct("efund", counts) is None  # the first letter is never corrected
    # A word the audience may not see is never offered.
    assert speller.correct("retrun", {**counts, "return": 0}) == "retune"


TYPO_COUNTS = {"return": 8, "refund": 10, "parcel": 4, "steps": 2, "rush": 1, "cut": 1, "costs": 1, "than": 5}
ENGLISH = frozenset(["my", "the", "was", "did", "dishwasher", "hoodie", "man", "men", "please", "can", "i", "it", "ref"])


@pytest.mark.parametrize("typed, fixed", [
    ("can i retrun it", "can i return it"),
    ("Retrun it. Parcle came late", "Return it. Parcel came late"),  # a capital at a sentence start is no name
    ("refnd please", "refund please"),
    ("refunt please", "refund please"),  # ends in "nt" but is no "n't" contraction
    ("my dishwasher and hoodie", "my dishwasher and hoodie"),  # English words the articles do not use
    ("it didnt come, wasnt it", "it didnt come, wasnt it"),  # contractions without the apostrophe
    ("the mens hoodie", "the mens hoodie"),  # a plural of an English word
    ("so Steph said Rsuh, the PARCLE man", "so Steph said Rsuh, the PARCLE man"),  # names and shouting stay
    ("MY PARCLE NEVER CAME, I WANT A REFND", "MY PARCEL NEVER CAME, I WANT A REFUND"),  # shouting: capitals say nothing
    ("ryanair", "ryanair"),  # no article word one edit away
    ("cust wants thanx", "cust wants thanx"),  # abbreviations, not typos of "cut" or "than"
    ("two custs", "two custs"),  # nor "costs"
    ("sepst", "sepst"),  # two edits from "steps": not corrected
])
def test_fix_typos_corrects_only_misspellings_of_article_words(typed, fixed):
    speller = Speller(TYPO_COUNTS)
    assert fix_typos(typed, speller, TYPO_COUNTS, ENGLISH) == fixed


def test_fix_typos_uses_a_real_english_dictionary():
    counts = {**TYPO_COUNTS, "returned": 3}
    assert fix_typos("the dishwasher was retruned", Speller(counts), counts) == "the dishwasher was returned"


def test_did_you_mean_uses_this_builds_words(sample_index):
    view = open_snapshot(sample_index).view(True)
    assert view.did_you_mean("refnd for damaged parcle") == "refund for damaged parcel"
    assert view.did_you_mean("refund for a damaged parcel") is None
