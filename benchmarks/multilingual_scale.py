"""Fit `indexer.multilingual.SCALE`: the affine map of e5 cosines onto MiniLM's scale.

Two reference levels in each encoder, measured on the same English articles:

- *matching*: an article's alias (a customer's wording, embedded as a query) against its
  own article's overview chunk;
- *unrelated*: the same alias against every other article's overview (the median).

The map sends e5's two levels onto MiniLM's: `a = (M_m - U_m) / (M_e - U_e)`, `b = M_m - a M_e`.
An alias is a customer's words and an overview the article's, which is what ranking compares.

    .venv/bin/python benchmarks/multilingual_scale.py --index var/index [--index tests/...]

The index must be a published build of English articles with aliases (the bundled one).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from indexer import multilingual, store
from indexer.embedding import get_encoder, onnx_file


def levels(alias_vectors: np.ndarray, overview_vectors: np.ndarray, own: np.ndarray) -> tuple[float, float]:
    """(matching, unrelated): mean similarity to the own overview, mean of the median to the others."""
    sims = alias_vectors @ overview_vectors.T
    matching = sims[np.arange(len(own)), own]
    masked = sims.copy()
    masked[np.arange(len(own)), own] = np.nan
    unrelated = np.nanmedian(masked, axis=1)
    return float(matching.mean()), float(unrelated.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", action="append", required=True, type=Path)
    args = parser.parse_args()
    rows = []
    for root in args.index:
        build = store.current_build_path(root)
        assert build is not None, f"no build under {root}"
        chunks = store.read_chunks(build)
        order = sorted({c.article_id for c in chunks})
        position = {a: i for i, a in enumerate(order)}
        overview = {c.article_id: c for c in chunks if c.kind == "overview"}
        aliases = [c for c in chunks if c.kind == "alias"]
        own = np.array([position[c.article_id] for c in aliases])
        minilm = get_encoder(onnx_path=onnx_file(root / "models"))
        e5 = multilingual.get_encoder()
        overview_texts = [overview[a].embed_text for a in order]
        alias_texts = [c.text for c in aliases]
        m_match, m_unrel = levels(minilm.encode(alias_texts), minilm.encode(overview_texts), own)
        e_match, e_unrel = levels(e5.encode_queries(alias_texts), e5.encode(overview_texts), own)
        a = (m_match - m_unrel) / (e_match - e_unrel)
        b = m_match - a * e_match
        rows.append({"index": str(root), "aliases": len(aliases), "minilm": [round(m_match, 4), round(m_unrel, 4)],
                     "e5": [round(e_match, 4), round(e_unrel, 4)], "a": round(a, 4), "b": round(b, 4)})
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
