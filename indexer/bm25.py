"""BM25F impacts precomputed at build time, so a keyword query is one sparse sum at search time.

The Whoosh index (`indexer.keyword`) is the keyword index of record, but scoring an OR
query with Whoosh walks every posting in Python: 6 s per query at 5,000 articles
(docs/benchmarks.md). Every part of Whoosh's BM25F score for a term in a chunk is known
when the build is written (idf, field length, field boost), so this module computes that
score once per (term, chunk) and stores it term by term:

    impact(t, c) = sum over fields f of  idf_f(t) * bm25(tf_f(t, c) * boost_f, len_f(c), avglen_f)

with Whoosh's own formulas (`whoosh.scoring.BM25F`, B=0.75, K1=1.2, idf = log(N / (df + 1)) + 1).
A query's score for a chunk is the sum of the impacts of its distinct terms, which is what
Whoosh returns for an OR of the same terms (tests/test_bm25.py checks the two agree).

Tokens come from `indexer.terms.analyse` (words of every script, stemmed and stopped by
script, with a bounded stem cache: docs/languages.md), used for chunks and queries alike;
the Whoosh index is written with `indexer.terms.whoosh_analyzer`, which makes the same terms.
"""

from __future__ import annotations

from collections import Counter
from typing import Mapping

import numpy as np

from indexer.terms import Postings, TermMatrix, analyse, words

__all__ = ["B", "K1", "Postings", "TermMatrix", "analyse", "analyse_docs", "build_term_matrix", "impacts",
           "merge_postings", "sort_postings", "words"]

K1 = 1.2
B = 0.75

def analyse_docs(docs: list[Mapping[str, str]], fields: list[str]) -> Postings:
    """Postings of `docs` (one mapping of field name -> text per chunk row): the slow, Python part."""
    vocabulary: dict[str, int] = {}
    row_ids: list[int] = []
    field_ids: list[int] = []
    term_ids: list[int] = []
    counts: list[int] = []
    lengths = np.zeros((len(docs), len(fields)), dtype=np.float64)
    # Short fields repeat (an article's title is a field of every one of its chunks): count each once.
    repeated: dict[str, list[tuple[str, int]]] = {}
    for row, doc in enumerate(docs):
        for f, name in enumerate(fields):
            text = doc.get(name)
            if not text:
                continue
            if name == "body":
                pairs = list(Counter(analyse(text)).items())
            else:
                cached = repeated.get(text)
                if cached is None:
                    cached = repeated[text] = list(Counter(analyse(text)).items())
                pairs = cached
            lengths[row, f] = sum(count for _term, count in pairs)
            for term, count in pairs:
                row_ids.append(row)
                field_ids.append(f)
                term_ids.append(vocabulary.setdefault(term, len(vocabulary)))
                counts.append(count)
    return Postings(
        terms=np.array(list(vocabulary), dtype=str),
        rows=np.asarray(row_ids, dtype=np.int32),
        fields=np.asarray(field_ids, dtype=np.int8),
        term_ids=np.asarray(term_ids, dtype=np.int32),
        counts=np.asarray(counts, dtype=np.int32),
        lengths=lengths,
    )


def merge_postings(
    kept: Postings, old_rows: np.ndarray, new_rows: np.ndarray, fresh: Postings, fresh_rows: np.ndarray, n_rows: int
) -> Postings:
    """One Postings of `n_rows` rows: row `old_rows[i]` of `kept` becomes row `new_rows[i]`
    (rows of `kept` not listed are dropped), and row j of `fresh` becomes row `fresh_rows[j]`."""
    old_to_new = np.full(kept.n_rows, -1, dtype=np.int32)
    old_to_new[np.asarray(old_rows, dtype=np.int64)] = new_rows
    moved = old_to_new[kept.rows]  # each kept posting's new row, or -1: its row is dropped
    keep = moved >= 0
    vocabulary = {t: i for i, t in enumerate(kept.terms.tolist())}
    fresh_ids = np.array([vocabulary.setdefault(t, len(vocabulary)) for t in fresh.terms.tolist()], dtype=np.int32)
    lengths = np.zeros((n_rows, kept.lengths.shape[1]), dtype=np.float64)
    lengths[np.asarray(new_rows, dtype=np.int64)] = kept.lengths[np.asarray(old_rows, dtype=np.int64)]
    lengths[fresh_rows] = fresh.lengths
    fresh_terms = fresh_ids[fresh.term_ids] if len(fresh_ids) else fresh.term_ids
    return Postings(
        terms=np.array(list(vocabulary), dtype=str),
        rows=np.concatenate([moved[keep], np.asarray(fresh_rows)[fresh.rows]], dtype=np.int32, casting="same_kind"),
        fields=np.concatenate([kept.fields[keep], fresh.fields], dtype=np.int8, casting="same_kind"),
        term_ids=np.concatenate([kept.term_ids[keep], fresh_terms], dtype=np.int32, casting="same_kind"),
        counts=np.concatenate([kept.counts[keep], fresh.counts], dtype=np.int32, casting="same_kind"),
        lengths=lengths,
    )


def sort_postings(postings: Postings) -> Postings:
    """`postings` in term order (by term text, then row), the order `impacts` lays them out in.

    Stored this way, a rebuild's merged postings are one long sorted run plus the few rows
    it analysed afresh, which a stable sort (timsort) puts in order in linear time: at 5,000
    articles sorting them from scratch was the largest part of a one-edit rebuild's keyword
    work, and it grows as n log n."""
    if not len(postings.rows):
        return postings
    names_order = np.argsort(postings.terms, kind="stable")
    rank_of = np.empty(len(postings.terms), dtype=np.int64)
    rank_of[names_order] = np.arange(len(postings.terms))
    key = rank_of[postings.term_ids] * max(postings.n_rows, 1) + postings.rows
    descents = np.flatnonzero(key[1:] < key[:-1])
    if not len(descents):
        return postings
    split = int(descents[0]) + 1  # key[:split] is in order
    if len(key) - split > len(key) // 4:
        order = np.argsort(key, kind="stable")
    else:  # a rebuild's merge: the kept postings in order, then the few analysed afresh
        tail = np.argsort(key[split:], kind="stable") + split
        at = np.searchsorted(key[:split], key[tail], side="right") + np.arange(len(tail))
        order = np.empty(len(key), dtype=np.int64)
        head = np.ones(len(key), dtype=bool)
        head[at] = False
        order[head] = np.arange(split)
        order[at] = tail
    return Postings(
        terms=postings.terms, rows=postings.rows[order], fields=postings.fields[order],
        term_ids=postings.term_ids[order], counts=postings.counts[order], lengths=postings.lengths,
    )


def impacts(postings: Postings, boosts: Mapping[str, float]) -> TermMatrix:
    """The BM25F impact of every (term, row) of `postings`, with per-field `boosts` (numpy only).

    Postings in term order (as `sort_postings` leaves them, and as every build stores them) are
    laid out without sorting: at 50,000 articles (18 million postings) the sort and the gathers
    it needs were most of a one-edit rebuild's keyword work. The arithmetic is done in place,
    in the order of the formula, so the impacts are the same to the bit either way."""
    n_rows = postings.n_rows
    fields = list(boosts)
    n_fields = len(fields)
    rows, fids, tids = postings.rows, postings.fields, postings.term_ids
    lengths = postings.lengths
    n_terms = len(postings.terms)
    if not len(rows):
        return TermMatrix(terms=np.zeros(0, dtype=str), indptr=np.zeros(1, dtype=np.int64),
                          rows=np.zeros(0, dtype=np.int32), impacts=np.zeros(0, dtype=np.float32), n_rows=n_rows)

    # Whoosh's statistics: N counts every document, df and average length are per field.
    term_field = tids.astype(np.int64) * n_fields + fids
    df = np.bincount(term_field, minlength=n_terms * n_fields).reshape(n_terms, n_fields)
    idf = np.log(max(n_rows, 1) / (df + 1.0)) + 1.0
    avg = lengths.sum(axis=0) / max(n_rows, 1)
    avg[avg == 0] = 1.0
    # impact = idf * (tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * length / avg)), term by term
    tf = postings.counts.astype(np.float64)
    tf *= np.asarray([boosts[f] for f in fields])[fids]
    denominator = (lengths / avg).ravel()[rows.astype(np.int64) * n_fields + fids]
    denominator *= B
    denominator += 1 - B
    denominator *= K1
    denominator += tf
    tf *= K1 + 1
    impact = idf.ravel()[term_field]
    del term_field
    impact *= tf
    impact /= denominator
    del tf, denominator

    # One impact per (term, row): sum the fields, then lay the postings out term by term,
    # with terms in sorted order so the file is deterministic for the same input. Terms no
    # row holds any more (after a merge) are left out.
    used = np.zeros(n_terms, dtype=bool)
    used[tids] = True
    names = np.sort(postings.terms[used])
    rank_of = np.full(n_terms, -1, dtype=np.int32)
    rank_of[used] = np.searchsorted(names, postings.terms[used])
    rank = rank_of[tids]
    step = np.diff(rank)
    new_pair = (step != 0) | (rows[1:] != rows[:-1])
    if not ((step > 0) | ((step == 0) & (rows[1:] >= rows[:-1]))).all():  # not in (term, row) order
        key = rank.astype(np.int64) * max(n_rows, 1) + rows
        order = np.argsort(key, kind="stable")
        rank, row_of, impact = rank[order], rows[order], impact[order]
        new_pair = (rank[1:] != rank[:-1]) | (row_of[1:] != row_of[:-1])
    else:
        row_of = rows
    del step
    starts = np.flatnonzero(np.r_[True, new_pair])
    summed = np.add.reduceat(impact, starts)
    indptr = np.zeros(len(names) + 1, dtype=np.int64)
    np.cumsum(np.bincount(rank[starts], minlength=len(names)), out=indptr[1:])
    return TermMatrix(
        terms=names,
        indptr=indptr,
        rows=row_of[starts].astype(np.int32),
        impacts=summed.astype(np.float32),
        n_rows=n_rows,
    )


def build_term_matrix(docs: list[Mapping[str, str]], boosts: Mapping[str, float]) -> TermMatrix:
    """Impacts for `docs` (one mapping of field name -> text per chunk row) with per-field `boosts`."""
    return impacts(analyse_docs(docs, list(boosts)), boosts)
